#pragma once
// Speculative decoding of one sequence (sabre-generate; the engine's batched form builds on the same
// pieces): a proposer offers up to k tokens, the target scores all of them in one forward pass over k+1
// positions, and the rejection rule (kernels/speculative.hpp) keeps the accepted run plus one token of
// the target's own. What is generated follows the target's distribution; greedy output is the target's
// argmax at every position (bit-identical to plain decoding when the backend is batch-invariant, since
// a position's logits then do not depend on how many rows share the pass).
//
// Proposers here propose deterministically (a greedy draft model, prompt lookup), so the rule runs
// with one-hot draft distributions: exact for any target distribution, with less acceptance under
// high temperatures than a sampling draft would get.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model/generator.hpp"
#include "model/ngram_proposer.hpp"
#include "model/transformer.hpp"

namespace sabre {

class TokenProposer {
 public:
  virtual ~TokenProposer() = default;
  // Up to k tokens likely to follow `tokens` (the prompt and everything generated so far).
  virtual std::vector<int32_t> propose(std::span<const int32_t> tokens, int32_t k) = 0;
};

// Prompt lookup (model/ngram_proposer.hpp).
class PromptLookupProposer final : public TokenProposer {
 public:
  explicit PromptLookupProposer(NgramOptions options = {}) : options_(options) {}
  std::vector<int32_t> propose(std::span<const int32_t> tokens, int32_t k) override {
    return propose_ngram(tokens, k, options_);
  }

 private:
  NgramOptions options_;
};

// A smaller model of the same vocabulary, decoding greedily on a KV cache of its own that keeps the
// longest prefix it shares with the sequence (so a rejection costs it nothing but the recomputation of
// the tokens after the prefix).
class DraftModelProposer final : public TokenProposer {
 public:
  // `max_tokens`: the longest sequence (prompt and output) it will see, plus k. Throws
  // std::invalid_argument naming both sizes when the vocabularies differ.
  DraftModelProposer(Transformer& draft, int64_t target_vocab, int64_t max_tokens);
  std::vector<int32_t> propose(std::span<const int32_t> tokens, int32_t k) override;

 private:
  int32_t run(std::span<const int32_t> tokens);  // feeds tokens after the cached ones, returns the argmax
  Transformer& draft_;
  SequenceKv kv_;
  std::vector<int32_t> cached_;  // the tokens whose KV the draft holds, in order
  std::vector<float> logits_;
};

struct SpeculationStats {
  int64_t steps = 0;     // target passes over proposed tokens
  int64_t proposed = 0;  // tokens proposed
  int64_t accepted = 0;  // of them accepted
  double propose_seconds = 0;  // in the proposer (the draft model's passes)
  double verify_seconds = 0;   // in the target's passes over the proposals, and the rejection rule
  double acceptance_rate() const { return proposed > 0 ? static_cast<double>(accepted) / static_cast<double>(proposed) : 0; }
  // Tokens per target pass: the accepted ones and the target's own.
  double tokens_per_step() const {
    return steps > 0 ? static_cast<double>(accepted + steps) / static_cast<double>(steps) : 0;
  }
};

// generate() with speculation: up to `k` proposed tokens per target pass. Stop ids, eos and max_new_tokens
// end generation in the middle of an accepted run (the tokens after it are dropped). Throws what
// generate() throws.
GenerationResult generate_speculative(Transformer& target, TokenProposer& proposer, int32_t k,
                                      std::span<const int32_t> prompt, const GenerationOptions& options,
                                      const TokenCallback& on_token = {}, SpeculationStats* stats = nullptr);

}  // namespace sabre
