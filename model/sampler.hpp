#pragma once
// Picks the next token from a row of logits for one request. Greedy at temperature 0, otherwise a draw
// from the request's own seeded generator, so the same seed and request give the same text whatever
// else shares the batch (each request owns its Sampler; nothing random is shared).
//
// Order of operations, as vLLM's sampler applies them (so that clients see the same semantics):
//   0. log-probabilities reported to the client (the sampled token's and top_logprobs) come from the
//      raw logits' log_softmax, before anything below (vLLM's default "raw_logprobs").
//   1. logit_bias: bias[id] added to the logit.
//   2. min_tokens: until that many tokens have been generated, stop_token_ids and eos ids get -inf.
//   3. repetition_penalty (HF/vLLM): for every id seen in the prompt or the output, a positive logit is
//      divided by the penalty and a negative one multiplied by it.
//   4. frequency_penalty and presence_penalty (OpenAI): logit -= frequency * count_in_output
//      + presence * (count_in_output > 0); output tokens only, never the prompt.
//   5. greedy (temperature 0 or top_k 1): argmax of the logits so far; otherwise
//   6. temperature, 7. min_p (drop tokens whose probability is below min_p times the best one's),
//   8. top_k, 9. top_p, 10. a draw from what is left.

#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sabre {

struct SamplingParams {
  double temperature = 1.0;  // 0: greedy
  double top_p = 1.0;        // (0, 1]; 1 disables
  int64_t top_k = 0;         // 0 (or >= vocab) disables
  uint64_t seed = 0;         // seeds this request's own generator
  double min_p = 0.0;        // [0, 1]; 0 disables
  double repetition_penalty = 1.0;  // > 0; 1 disables
  double presence_penalty = 0.0;    // [-2, 2]
  double frequency_penalty = 0.0;   // [-2, 2]
  std::map<int32_t, float> logit_bias{};  // token id -> bias added to its logit
  int64_t top_logprobs = 0;             // how many most likely tokens to report per step
  int64_t min_tokens = 0;               // eos and stop ids are masked until this many are generated
  std::vector<int32_t> stop_token_ids{};  // generation ends at any of them (the caller checks is_stop_token)

  // Throws std::invalid_argument naming the bad field.
  void validate() const;
};

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};

struct SampledToken {
  int32_t token = 0;
  float logprob = 0.0f;  // under the raw distribution (log_softmax of the unmodified logits)
  std::vector<TokenLogprob> top_logprobs;  // params.top_logprobs best, most likely first (raw, too)
};

class Sampler {
 public:
  // `prompt`: the request's prompt ids, which the repetition penalty counts as seen.
  // `eos_token_ids`: ids that end generation besides params.stop_token_ids (pass none for ignore_eos);
  // min_tokens masks them too.
  explicit Sampler(const SamplingParams& params, std::span<const int32_t> prompt = {},
                   std::span<const int32_t> eos_token_ids = {});

  // Samples the next token and records it as generated (for the penalties and min_tokens).
  // Throws std::invalid_argument for empty logits, a logit_bias or stop id outside the vocabulary, or
  // when every token has been masked.
  SampledToken sample(std::span<const float> logits);

  // The logits after steps 1-4 above (bias, min_tokens mask, penalties) for the current history,
  // without sampling or recording anything; what greedy takes the argmax of.
  std::vector<float> adjusted_logits(std::span<const float> logits) const;

  // Whether `token` ends generation: a stop token id or one of the eos ids given at construction.
  bool is_stop_token(int32_t token) const;
  int64_t generated_count() const { return generated_count_; }
  const SamplingParams& params() const { return params_; }

 private:
  void apply_bias_mask_and_penalties(std::vector<float>& logits) const;
  int32_t draw(const std::vector<float>& logits);
  void record(int32_t token);

  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> ends_generation_;            // stop_token_ids + eos ids
  std::unordered_set<int32_t> seen_;                // prompt and output ids (repetition penalty)
  std::unordered_map<int32_t, int64_t> output_counts_;  // output ids (frequency/presence penalties)
  int64_t generated_count_ = 0;
  // Scratch reused across calls (sized to the vocabulary once).
  std::vector<float> processed_;
  std::vector<int32_t> order_;
  std::vector<float> probabilities_;
};

// log_softmax(logits)[token], computed stably.
float token_logprob(std::span<const float> logits, int32_t token);

// The k highest entries of log_softmax(logits), most likely first, ties to the lower id.
std::vector<TokenLogprob> top_token_logprobs(std::span<const float> logits, int64_t k);

}  // namespace sabre
