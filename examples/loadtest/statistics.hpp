#pragma once
// Summary statistics of latency samples: the mean, spread and the percentiles a serving benchmark
// reports. Percentiles interpolate linearly between the closest ranks (numpy's default), so p50 of
// {1, 2, 3, 4} is 2.5 and the figures match what Python-based benchmarks print for the same samples.

#include <cstddef>
#include <span>
#include <vector>

namespace sabre::loadtest {

// The p-th percentile (0 <= p <= 100) of `sorted`, which must be sorted ascending and non-empty.
double percentile_of_sorted(std::span<const double> sorted, double p);

struct Summary {
  size_t count = 0;  // 0: every other field is 0 and means "no samples"
  double mean = 0, stddev = 0, min = 0, max = 0;
  double p50 = 0, p90 = 0, p99 = 0;
};

// Population standard deviation. Takes the samples by value: it sorts them.
Summary summarize(std::vector<double> samples);

}  // namespace sabre::loadtest
