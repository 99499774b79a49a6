#pragma once
// When each request of a rate-limited run is sent: a Poisson process, i.e. exponentially distributed
// gaps with mean 1/rate, reproducible from the seed. The first request goes at time 0.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sabre::loadtest {

// Offsets in seconds from the start, non-decreasing; all 0 when rate is infinite.
std::vector<double> poisson_arrival_offsets(size_t count, double rate, uint64_t seed);

}  // namespace sabre::loadtest
