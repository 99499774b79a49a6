#pragma once
// What the two sampler test files share: a five-token distribution with known probabilities and the
// observed frequencies of a sampler over many draws from it.

#include <cmath>
#include <map>
#include <vector>

#include "kernels/cpu/sampler.hpp"

namespace sabre::sampler_test {

// log-softmax probabilities: p = [0.5, 0.25, 0.125, 0.0625, 0.0625].
inline const std::vector<float> kLogits = {std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.0625f),
                                           std::log(0.0625f)};

inline std::map<int32_t, double> frequencies(const SamplingParams& params, int draws = 40000) {
  Sampler sampler(params);
  std::map<int32_t, double> counts;
  for (int i = 0; i < draws; ++i) counts[sampler.sample(kLogits).token] += 1.0 / draws;
  return counts;
}

}  // namespace sabre::sampler_test
