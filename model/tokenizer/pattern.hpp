#pragma once
// The "pattern" of a Split pre-tokenizer or a Replace normalizer/decoder: {"String": "..."} (a literal)
// or {"Regex": "..."} (an Oniguruma regex, run with PCRE2).

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/tokenizer/json_util.hpp"
#include "model/tokenizer/pcre2_regex.hpp"

namespace sabre {

class SplitPattern {
 public:
  static SplitPattern from_json(tokenizer_json::Element e, const tokenizer_json::Where& where);
  static SplitPattern literal(std::string text);
  // An Oniguruma-syntax regex; `origin` names where it came from for compile errors.
  static SplitPattern regex(std::string_view onig_pattern, std::string_view origin);

  // Non-overlapping, non-empty matches, left to right, appended to `out` as byte ranges.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;
  const Pcre2Regex* regex() const { return regex_ ? &*regex_ : nullptr; }

 private:
  std::string literal_;
  std::optional<Pcre2Regex> regex_;
};

// Replaces every match of `pattern` in `text` by `content`.
std::string replace_all(const SplitPattern& pattern, std::string_view text, std::string_view content);

}  // namespace sabre
