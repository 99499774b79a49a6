#pragma once
// One sequence's sampler on the CPU: its parameters, its history (the tokens it committed), and the
// operations of the sampling contract (kernels/sampling.hpp, which also gives the order of processing):
// distribution() (no state change), draw() with a counter-based number, commit(). The CPU backend keeps
// one per registered sequence.

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/sampler_history.hpp"
#include "kernels/sampling.hpp"

namespace sabre {

// What a draw chooses from: candidate tokens, most likely first, with unnormalised weights (zero for a
// candidate min_p removed) summing to `total`. Greedy is one candidate of weight 1.
struct Distribution {
  std::vector<int32_t> tokens;
  std::vector<float> weights;
  double total = 0;

  double probability(size_t i) const { return weights[i] / total; }
};

class Sampler {
 public:
  // `prompt`: the request's prompt ids, which the repetition penalty counts as seen. `eos_token_ids`: ids
  // that end generation besides params.stop_token_ids (pass none for ignore_eos); min_tokens masks them
  // too. `stream`: which of a request's samples this is (its own random stream under the seed).
  // `constraint`: guided decoding's compiled constraint (the sampler starts its own), or null.
  // Throws std::invalid_argument naming a bad parameter.
  explicit Sampler(const SamplingParams& params, std::span<const int32_t> prompt = {},
                   std::span<const int32_t> eos_token_ids = {}, uint64_t stream = 0,
                   const TokenConstraintFactory* constraint = nullptr);

  // The processed distribution of `logits` for the history extended by `provisional` (steps 1-9 of the
  // contract). Changes nothing but scratch; the reference stays valid until the next call. Throws
  // std::invalid_argument for empty logits, a logit_bias or stop id outside the vocabulary, or when every
  // token is masked.
  const Distribution& distribution(std::span<const float> logits, std::span<const int32_t> provisional = {}) const;
  // The candidate at `u` in [0, 1) of the cumulative weights; a candidate of weight 0 is never chosen.
  static int32_t draw(const Distribution& distribution, double u);
  // Appends `token` to the history (for the penalties, min_tokens and the next draw's number).
  void commit(int32_t token);

  // distribution, then the draw numbered generated_count() + provisional.size(), with the raw
  // log-probabilities; commits the token unless `commit` is false.
  SampledToken sample(std::span<const float> logits, bool commit = true, std::span<const int32_t> provisional = {});

  // The logits after steps 1-4 (bias, min_tokens mask, penalties) for the current history, without
  // sampling or recording anything; what greedy takes the argmax of.
  std::vector<float> adjusted_logits(std::span<const float> logits) const;

  // Whether `token` ends generation: a stop token id or one of the eos ids given at construction.
  bool is_stop_token(int32_t token) const { return history_.is_stop_token(token); }
  int64_t generated_count() const { return history_.generated_count(); }
  const SamplingParams& params() const { return history_.params(); }
  uint64_t stream() const { return history_.stream(); }

 private:
  void apply_bias_mask_and_penalties(std::vector<float>& logits, std::span<const int32_t> provisional) const;

  SamplerHistory history_;
  // Scratch reused across calls (sized to the vocabulary once).
  mutable std::vector<LogitAdjustment> adjustments_;
  mutable std::vector<float> processed_;
  mutable std::vector<int32_t> order_;
  mutable std::vector<uint32_t> allowed_;
  mutable Distribution distribution_;
};

// log_softmax(logits)[token], computed stably.
float token_logprob(std::span<const float> logits, int32_t token);

// The k highest entries of log_softmax(logits), most likely first, ties to the lower id.
std::vector<TokenLogprob> top_token_logprobs(std::span<const float> logits, int64_t k);

}  // namespace sabre
