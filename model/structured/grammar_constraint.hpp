#pragma once
// A grammar compiled against a vocabulary, as the backend contract's TokenConstraintFactory, and the
// per-sequence TokenConstraint it starts.
//
// The tokens a set of parses allows depend only on the parses' content (their positions in the grammar),
// so masks are cached by that content and shared by every sequence using the grammar: a string being
// written, a repeated value, a loop in a regex come back to a state seen before, and their mask costs a
// lookup. The tokens that end generation are added per sequence (they differ between requests).

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/sampling.hpp"
#include "model/structured/grammar_matcher.hpp"
#include "model/structured/token_mask.hpp"
#include "model/structured/token_vocabulary.hpp"

namespace sabre::structured {

// How the mask cache of one grammar is doing (for the benchmark and logs).
struct MaskCacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  double miss_seconds = 0;  // spent computing the masks of misses
};

class CompiledGrammar final : public TokenConstraintFactory, public std::enable_shared_from_this<CompiledGrammar> {
 public:
  // Computes the first mask (cached for every sequence). Throws GrammarTooAmbiguous for a grammar that
  // starts with too many parses, or whose first mask takes more than `max_mask_work` parse steps
  // (kMaxMaskWork): such a constraint is refused at compile time; a later mask past the budget ends the
  // sequence. `fallback_ends`: the model's eos ids, allowed at the end of the grammar for a sequence that
  // has no end tokens of its own (ignore_eos without stop ids), so that it is never left with no token.
  CompiledGrammar(std::shared_ptr<const Grammar> grammar, std::shared_ptr<const TokenVocabulary> vocabulary,
                  std::vector<int32_t> fallback_ends, size_t max_mask_work = kMaxMaskWork);

  std::unique_ptr<TokenConstraint> start(std::span<const int32_t> end_tokens) const override;

  // The tokens the grammar allows from `set` of `matcher` (one of this grammar's), end tokens not
  // included; computed once per distinct set content.
  std::shared_ptr<const std::vector<uint32_t>> grammar_mask(GrammarMatcher& matcher, const StackSet& set) const;

  const std::shared_ptr<const Grammar>& grammar() const { return grammar_; }
  const TokenVocabulary& vocabulary() const { return *vocabulary_; }
  MaskCacheStats stats() const;

 private:
  std::shared_ptr<const Grammar> grammar_;
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  std::vector<int32_t> fallback_ends_;
  size_t max_cached_;  // masks kept (about 4 MiB of them); past it the cache starts over
  size_t max_mask_work_;
  mutable std::mutex mutex_;
  mutable std::unordered_map<std::string, std::shared_ptr<const std::vector<uint32_t>>> cache_;
  mutable MaskCacheStats stats_;
};

}  // namespace sabre::structured
