#pragma once
// A compiled PCRE2 pattern (UTF + UCP, JIT when available) for the tokenizers' split regexes.
// tokenizer.json patterns are written for Oniguruma (what `tokenizers` uses); `translate_onig_pattern`
// rewrites the few constructs whose meaning differs in PCRE2 so that matches are identical.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sabre {

class Pcre2Regex {
 public:
  // Throws std::runtime_error naming `origin` and the PCRE2 error with its offset.
  Pcre2Regex(std::string_view pattern, std::string_view origin);
  Pcre2Regex(Pcre2Regex&&) noexcept;
  Pcre2Regex& operator=(Pcre2Regex&&) noexcept;
  ~Pcre2Regex();

  // Byte ranges [begin, end) of all non-overlapping, non-empty matches in `text`, left to right,
  // appended to `out`. Safe to call from several threads at once.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Compiled;
  std::string pattern_;
  std::unique_ptr<Compiled> compiled_;
};

// Oniguruma (Ruby syntax, UTF-8) and PCRE2 differ on `\s`/`\S` (Oniguruma's is the Unicode White_Space
// property, PCRE2's also contains U+180E) and on `\w`/`\W` (Oniguruma's includes combining marks such
// as U+FE0F). Replaces them with explicit classes; the rest passes through.
std::string translate_onig_pattern(std::string_view pattern);

}  // namespace sabre
