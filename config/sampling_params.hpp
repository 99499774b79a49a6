#pragma once
// How one request samples its tokens (the OpenAI / vLLM sampling parameters), as a plain struct: the HTTP
// codec fills it, the engine carries it, the backend's sampling operation reads it
// (kernels/sampling.hpp describes the order the parameters apply in).

#include <cstdint>
#include <map>
#include <vector>

#include "config/guided_decoding.hpp"

namespace sabre {

struct SamplingParams {
  double temperature = 1.0;  // 0: greedy
  double top_p = 1.0;        // (0, 1]; 1 disables
  int64_t top_k = 0;         // 0 (or >= vocab) disables
  uint64_t seed = 0;         // with the sample's stream and the token's index, decides every draw
  double min_p = 0.0;        // [0, 1]; 0 disables
  double repetition_penalty = 1.0;  // > 0; 1 disables
  double presence_penalty = 0.0;    // [-2, 2]
  double frequency_penalty = 0.0;   // [-2, 2]
  std::map<int32_t, float> logit_bias{};  // token id -> bias added to its logit
  int64_t top_logprobs = 0;             // how many most likely tokens to report per step
  int64_t min_tokens = 0;               // eos and stop ids are masked until this many are generated
  std::vector<int32_t> stop_token_ids{};  // generation ends at any of them (the caller checks is_stop_token)
  GuidedDecoding guided{};              // what the output must match (guided decoding); none by default

  // Throws std::invalid_argument naming the bad field.
  void validate() const;
};

}  // namespace sabre
