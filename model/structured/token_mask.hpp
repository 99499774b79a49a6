#pragma once
// Which tokens a grammar allows next: every token of the vocabulary whose bytes some parse accepts in
// full, found by walking the vocabulary's trie with the set of parses (a prefix no parse accepts cuts off
// every token under it).

#include <cstddef>
#include <cstdint>
#include <span>

#include "model/structured/grammar_matcher.hpp"
#include "model/structured/token_vocabulary.hpp"

namespace sabre::structured {

// The most parse steps one mask may take (a parse advanced by a byte at a trie node counts one, and
// working out where one parse goes after a byte, the first time, one per grammar position expanded). The
// walk's cost is the parses at each node it visits, so an ambiguous constraint over a large vocabulary
// could hold a rank for seconds per token: a regex of `.`, `.*` and alternatives took 203 M steps
// (about half a second) per mask on SmolLM2's vocabulary, while the JSON Schemas and regexes of
// sabre-bench-guided took at most 9.6 M on Qwen3's. Past the budget the constraint counts as too
// ambiguous (GrammarTooAmbiguous).
inline constexpr size_t kMaxMaskWork = size_t{1} << 26;

// Sets bit t of `words` for every token t whose bytes some parse in `set` accepts entirely. Uses the
// matcher's scratch frames and truncates them back before returning. Throws GrammarTooAmbiguous when
// the walk takes more than `max_work` parse steps.
void add_grammar_tokens(GrammarMatcher& matcher, const StackSet& set, const TokenVocabulary& vocabulary,
                        std::span<uint32_t> words, size_t max_work = kMaxMaskWork);

}  // namespace sabre::structured
