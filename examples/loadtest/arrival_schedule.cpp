#include "arrival_schedule.hpp"

#include <cmath>
#include <random>
#include <stdexcept>

namespace sabre::loadtest {

std::vector<double> poisson_arrival_offsets(size_t count, double rate, uint64_t seed) {
  if (!(rate > 0)) throw std::invalid_argument("request rate must be positive");
  std::vector<double> offsets(count, 0.0);
  if (std::isinf(rate)) return offsets;
  // A separate stream from the dataset's (which uses the seed itself) so that changing the rate leaves
  // the prompts alone.
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  std::exponential_distribution<double> gap(rate);
  for (size_t i = 1; i < count; ++i) offsets[i] = offsets[i - 1] + gap(rng);
  return offsets;
}

}  // namespace sabre::loadtest
