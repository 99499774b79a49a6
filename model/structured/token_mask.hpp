#pragma once
// Which tokens a grammar allows next: every token of the vocabulary whose bytes some parse accepts in
// full, found by walking the vocabulary's trie with the set of parses (a prefix no parse accepts cuts off
// every token under it).

#include <cstdint>
#include <span>

#include "model/structured/grammar_matcher.hpp"
#include "model/structured/token_vocabulary.hpp"

namespace sabre::structured {

// Sets bit t of `words` for every token t whose bytes some parse in `set` accepts entirely. Uses the
// matcher's scratch frames and truncates them back before returning.
void add_grammar_tokens(GrammarMatcher& matcher, const StackSet& set, const TokenVocabulary& vocabulary,
                        std::span<uint32_t> words);

}  // namespace sabre::structured
