#pragma once
// Picks the next token from a row of logits: greedy at temperature 0, otherwise temperature, top-k and
// top-p (nucleus) filtering and a draw from a seeded generator, so the same seed gives the same text.
// Also reports the chosen token's log-probability under the model's unmodified distribution
// (log_softmax of the raw logits), which is what OpenAI-style `logprobs` report.

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <vector>

namespace sabre {

struct SamplingParams {
  double temperature = 1.0;  // 0: greedy
  double top_p = 1.0;        // (0, 1]; 1 disables
  int64_t top_k = 0;         // 0 (or >= vocab) disables
  uint64_t seed = 0;

  // Throws std::invalid_argument naming the bad field.
  void validate() const;
};

struct SampledToken {
  int32_t token = 0;
  float logprob = 0.0f;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  SampledToken sample(std::span<const float> logits);
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  // Scratch reused across calls (sized to the vocabulary once).
  std::vector<int32_t> order_;
  std::vector<float> probabilities_;
};

// log_softmax(logits)[token], computed stably.
float token_logprob(std::span<const float> logits, int32_t token);

}  // namespace sabre
