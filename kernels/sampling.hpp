#pragma once
// The sampling part of the backend contract: sampling happens where the logits are, and the host gets
// back only the chosen ids and the log-probabilities it asked for.
//
// A sequence's sampler is registered once (SamplerSpec: its parameters, its prompt for the repetition
// penalty, the ids that end it, its seed and stream) and keeps the sequence's history (the tokens it
// committed) until it is released. Per step, each SampleRow names a logits row and a sampler. The
// operation is split in two: the distribution of a row (the processed, normalised probabilities; a
// pure function of the logits, the parameters and the history, with the row's provisional tokens
// counted as if generated) and its commit (appending a token to the history). Sampling draws from the
// distribution with the counter-based number of (seed, stream, index), index = the tokens committed
// plus the row's provisional ones, and commits unless told not to. So a seeded request samples the same
// tokens alone or in any batch, on any backend where the logits agree; speculative verification can
// score proposed tokens (provisional, not committed) and commit the accepted ones afterwards.
//
// The order of processing, as vLLM's sampler applies it:
//   0. reported log-probabilities (the sampled token's and top_logprobs) are the raw logits'
//      log_softmax, before anything below;
//   1. logit_bias added;
//   1b. with a constraint (guided decoding), every token it does not allow masked;
//   2. until min_tokens are generated, the stop ids and eos ids masked (unless the constraint allows
//      nothing else: a finished grammar wins over min_tokens);
//   3. repetition_penalty (HF/vLLM) over every id in the prompt or the output;
//   4. frequency and presence penalties (OpenAI) over the output;
//   5. greedy (temperature 0 or top_k 1): all mass on the argmax (ties to the lowest id); otherwise
//   6. temperature, 7. min_p, 8. top_k, 9. top_p (the smallest prefix reaching it), 10. the draw.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "config/sampling_params.hpp"

namespace sabre {

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};

struct SampledToken {
  int32_t token = 0;
  float logprob = 0.0f;                    // under the raw distribution (log_softmax of the logits)
  std::vector<TokenLogprob> top_logprobs;  // params.top_logprobs best, most likely first (raw too)
  // 1 + how many tokens the raw distribution finds likelier (vLLM's rank), where it was computed (a
  // scored prompt token); 0 where it was not (sampled tokens).
  int32_t rank = 0;
};

// Guided decoding: which tokens one sequence may produce next, following the tokens it committed. Each
// backend's sampler owns one (started from the spec's factory) and advances it with every commit.
class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets bit t of `allowed` (32-bit words, zeroed by the caller, at least (vocab + 31) / 32 of them) for
  // every token t allowed after the committed tokens followed by `provisional`. Never leaves every bit
  // clear: where the constraint allows nothing (it is finished, or a provisional token broke it), the
  // tokens that end generation are allowed.
  virtual void allowed_tokens(std::span<const int32_t> provisional, std::span<uint32_t> allowed) = 0;
  // Whether the constraint allows nothing but the tokens that end generation after `provisional`.
  virtual bool only_ends(std::span<const int32_t> provisional) = 0;
  // Advances past a committed token.
  virtual void commit(int32_t token) = 0;
};

// A compiled constraint, shared by the sequences (and ranks) that use it; thread-safe.
class TokenConstraintFactory {
 public:
  virtual ~TokenConstraintFactory() = default;
  // A constraint at the start of generation. `end_tokens`: the ids that end this sequence (its stop and
  // eos ids), allowed where the constraint may end.
  virtual std::unique_ptr<TokenConstraint> start(std::span<const int32_t> end_tokens) const = 0;
};

// A sequence's sampler, as registered with a backend under `key` (the engine uses the sequence id).
struct SamplerSpec {
  uint64_t key = 0;
  SamplingParams params;
  std::vector<int32_t> prompt;         // the repetition penalty counts its ids as seen
  std::vector<int32_t> eos_token_ids;  // end generation besides params.stop_token_ids; min_tokens masks them
  uint64_t stream = 0;                 // which of a request's n samples: its own random stream
  // Guided decoding (params.guided compiled against the vocabulary); null without one. Not sent to other
  // processes: a rank there compiles params.guided itself.
  std::shared_ptr<const TokenConstraintFactory> constraint;
};

// One row to sample: logits row `logits_row` of the step's logits, with sampler `sampler`. `provisional`
// tokens count as generated for this row only (penalties, min_tokens and the draw's index). With
// `commit` the sampled token is appended to the sampler's history.
struct SampleRow {
  int32_t logits_row = 0;
  uint64_t sampler = 0;
  bool commit = true;
  std::vector<int32_t> provisional;
};

// A token appended to a sampler's history.
struct CommittedToken {
  uint64_t sampler = 0;
  int32_t token = 0;
};

}  // namespace sabre
