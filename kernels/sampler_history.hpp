#pragma once
// A sequence's sampler state on the host, for every backend: its parameters, its history (the tokens it
// committed), and the sparse logit adjustments steps 1-4 of the sampling order (kernels/sampling.hpp)
// make for one row: logit_bias, the min_tokens mask, the repetition penalty, the frequency and presence
// penalties. The CPU sampler applies them to a dense row; the CUDA backend uploads them, so both adjust
// the same tokens by the same float operations.

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kernels/sampling.hpp"

namespace sabre {

// What happens to one token's logit, in this order: + bias; then -inf if masked; then divided (if
// positive) or multiplied by the repetition penalty if repeated; then minus subtract.
struct LogitAdjustment {
  int32_t token = 0;
  float bias = 0.0f;
  bool masked = false;
  bool repeated = false;
  float subtract = 0.0f;
};

class SamplerHistory {
 public:
  // `prompt`: ids the repetition penalty counts as seen. `eos_token_ids`: ids that end generation besides
  // params.stop_token_ids (none for ignore_eos); min_tokens masks them too. Throws std::invalid_argument
  // naming a bad parameter.
  // `constraint`: guided decoding's compiled constraint, or null; the history starts its own.
  SamplerHistory(const SamplingParams& params, std::span<const int32_t> prompt, std::span<const int32_t> eos_token_ids,
                 uint64_t stream, const TokenConstraintFactory* constraint = nullptr);

  void commit(int32_t token);
  bool is_stop_token(int32_t token) const;
  int64_t generated_count() const { return generated_count_; }
  const SamplingParams& params() const { return params_; }
  uint64_t stream() const { return stream_; }
  bool greedy() const { return params_.temperature == 0 || params_.top_k == 1; }

  // The adjustments of a row whose history is extended by `provisional`, in ascending token order (one
  // entry per token). With `constraint_masks`, every token the constraint rules out is masked among them
  // (a backend that applies allowed_tokens() densely passes false). Throws std::invalid_argument for a
  // logit_bias id, a stop or eos id being masked, a provisional id or an output id outside the vocabulary;
  // prompt ids outside it are ignored.
  void adjustments(std::span<const int32_t> provisional, int64_t vocab, std::vector<LogitAdjustment>& out,
                   bool constraint_masks = true) const;

  bool constrained() const { return constraint_ != nullptr; }
  // The constraint's allowed tokens after the history and `provisional` (TokenConstraint::allowed_tokens);
  // `words` is resized to (vocab + 31) / 32 words. Only when constrained().
  void allowed_tokens(std::span<const int32_t> provisional, int64_t vocab, std::vector<uint32_t>& words) const;
  // Applies adjustments to a dense row of logits.
  static void apply(std::span<const LogitAdjustment> adjustments, float repetition_penalty, std::span<float> logits);

 private:
  SamplingParams params_;
  uint64_t stream_ = 0;
  std::vector<int32_t> ends_generation_;                // stop_token_ids + eos ids
  std::unordered_set<int32_t> seen_;                    // prompt and output ids (repetition penalty)
  std::unordered_map<int32_t, int64_t> output_counts_;  // output ids (frequency/presence penalties)
  int64_t generated_count_ = 0;
  std::unique_ptr<TokenConstraint> constraint_;  // guided decoding's state, advanced by commit()
  mutable std::vector<uint32_t> allowed_scratch_;
};

}  // namespace sabre
