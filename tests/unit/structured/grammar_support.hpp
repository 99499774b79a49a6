#pragma once
// Helpers for the guided-decoding tests: lowering rules and matching whole texts against them.

#include <memory>
#include <string>
#include <string_view>

#include "model/structured/grammar.hpp"
#include "model/structured/grammar_matcher.hpp"
#include "model/structured/json_grammar.hpp"

namespace sabre::structured::test {

inline std::shared_ptr<const Grammar> lowered(const RuleMap& rules) {
  return std::make_shared<const Grammar>(Grammar::lower(rules, "root"));
}

inline std::shared_ptr<const Grammar> lowered(const Expr& root) {
  RuleMap rules;
  rules["root"] = root;
  return lowered(rules);
}

// Whether the grammar matches all of `text`.
inline bool matches(const std::shared_ptr<const Grammar>& grammar, std::string_view text) {
  GrammarMatcher matcher(grammar);
  StackSet set = matcher.initial(), next;
  for (char c : text) {
    matcher.advance(set, static_cast<uint8_t>(c), next);
    set.swap(next);
    if (set.empty()) return false;
  }
  return GrammarMatcher::can_end(set);
}

}  // namespace sabre::structured::test
