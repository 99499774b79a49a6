#pragma once
// Regular expressions as grammar expressions, for guided_regex and JSON Schema's "pattern" and formats.
//
// The syntax is the common core of Python's `re` and ECMAScript: literals (UTF-8), `.`, classes with
// ranges and negation, the escapes \d \w \s \D \W \S \n \r \t \f \v \0 \xHH \uHHHH and escaped
// punctuation, groups (capturing, (?:...), named), alternation, and the quantifiers * + ? {n} {n,}
// {n,m} (lazy forms match the same strings). ^ at the start and $ at the end are accepted: the whole
// output matches anyway. What a grammar cannot express the same way (backreferences, lookaround, word
// boundaries, anchors elsewhere, inline flags) is a GrammarError naming it and its position, never a
// looser match.

#include <string_view>

#include "model/structured/grammar.hpp"

namespace sabre::structured {

enum class RegexContext {
  raw,          // the bytes generated are the matched text
  json_string,  // the matched text is written inside a JSON string: '"' and '\' come out escaped, and
                // control characters are left out (a string without them is still a match)
};

struct RegexOptions {
  RegexContext context = RegexContext::raw;
  bool dot_matches_newline = false;
};

// The expression matching exactly the strings `pattern` matches in full. Throws GrammarError.
Expr regex_expr(std::string_view pattern, const RegexOptions& options = {});

// True when the pattern starts with ^ and ends with an unescaped $ (JSON Schema patterns are searches
// unless anchored).
bool regex_is_anchored(std::string_view pattern);

}  // namespace sabre::structured
