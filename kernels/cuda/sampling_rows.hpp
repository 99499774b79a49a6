#pragma once
// What the host sends the sampling kernels per row and what comes back (sampling.cu). Plain C++,
// compiled by both g++ and nvcc.

#include <cstdint>

namespace sabre::cuda {

// One row to sample or to give the distribution of. The host has turned the sampler's state into
// numbers: the adjustments (kernels/sampler_history.hpp) and the draw's uniform number (philox.hpp).
struct SampleRowParams {
  int32_t logits_row = 0;
  int32_t greedy = 0;
  int32_t top_k = 0;         // 0: the whole vocabulary
  int32_t top_logprobs = 0;  // raw log-probabilities to report besides the token's
  int32_t adjust_begin = 0;  // this row's adjustments in the adjustment array
  int32_t adjust_count = 0;
  float repetition_penalty = 1.0f;
  int32_t unused = 0;
  double inv_temperature = 1.0;
  double top_p = 1.0;
  double min_p_floor = 0.0;  // log(min_p); -inf when min_p is off
  double uniform = 0.0;      // the draw, in [0, 1)
};

// LogitAdjustment on the device: flags 1 = masked, 2 = repeated.
struct DeviceAdjustment {
  int32_t token = 0;
  float bias = 0.0f;
  float subtract = 0.0f;
  int32_t flags = 0;
};
inline constexpr int32_t kAdjustMasked = 1;
inline constexpr int32_t kAdjustRepeated = 2;

struct SampleResult {
  int32_t token = -1;
  int32_t status = 0;        // kSampleOk, or kSampleAllMasked: every token's adjusted logit is -inf
  float raw_max = 0.0f;      // the raw logits' largest value
  float token_logit = 0.0f;  // the raw logit of `token`
  double raw_sum = 0.0;      // sum of exp(raw - raw_max) in double, as the CPU sums it
  int32_t top_count = 0;     // entries written to this row's TopEntry run (unordered)
  int32_t unused = 0;
};
inline constexpr int32_t kSampleOk = 0;
inline constexpr int32_t kSampleAllMasked = 1;

struct TopEntry {
  int32_t token = 0;
  float logit = 0.0f;
};

}  // namespace sabre::cuda
