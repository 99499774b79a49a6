#include "model/structured/regex_grammar.hpp"

#include <fmt/format.h>

#include <limits>

#include "model/structured/utf8_ranges.hpp"

namespace sabre::structured {
namespace {

constexpr int kMaxGroupDepth = 200;

const CodepointRanges kDigits{{'0', '9'}};
const CodepointRanges kWord{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const CodepointRanges kSpace{{'\t', '\r'}, {' ', ' '}};  // \t \n \v \f \r and space

CodepointRanges merged(CodepointRanges a, const CodepointRanges& b) {
  a.insert(a.end(), b.begin(), b.end());
  return normalized(std::move(a));
}

bool contains(const CodepointRanges& ranges, uint32_t cp) {
  for (const auto& [lo, hi] : ranges) {
    if (cp >= lo && cp <= hi) return true;
  }
  return false;
}

class RegexParser {
 public:
  RegexParser(std::string_view pattern, const RegexOptions& options) : p_(pattern), options_(options) {}

  Expr parse() {
    if (!p_.empty() && p_[0] == '^') ++i_;
    Expr e = alternation();
    if (i_ < p_.size()) fail("an unmatched ')'");
    return e;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw GrammarError(fmt::format("regex: {} at offset {} of \"{}\"", what, i_, p_));
  }

  bool at_end() const { return i_ >= p_.size(); }
  char peek() const { return p_[i_]; }
  bool looking_at(std::string_view s) const { return p_.substr(i_, s.size()) == s; }

  Expr alternation() {
    std::vector<Expr> alternatives{sequence()};
    while (!at_end() && peek() == '|') {
      ++i_;
      alternatives.push_back(sequence());
    }
    return Expr::any_of(std::move(alternatives));
  }

  Expr sequence() {
    std::vector<Expr> items;
    while (!at_end() && peek() != '|' && peek() != ')') {
      if (peek() == '$' && i_ + 1 == p_.size()) {
        ++i_;  // the end of the output
        continue;
      }
      items.push_back(quantified(atom()));
    }
    return Expr::seq(std::move(items));
  }

  Expr atom() {
    const char c = peek();
    switch (c) {
      case '(': return group();
      case '[': return chars(char_class());
      case '.': {
        ++i_;
        return chars(options_.dot_matches_newline ? CodepointRanges{{0, kMaxCodepoint}} : complement({{'\n', '\n'}}));
      }
      case '\\': return escape_atom();
      case '^': fail("'^' (an anchor) not at the start");
      case '$': fail("'$' (an anchor) not at the end");
      case '*': case '+': case '?': fail(fmt::format("'{}' with nothing to repeat", c));
      default: {
        const uint32_t cp = next_codepoint();
        return chars({{cp, cp}});
      }
    }
  }

  Expr group() {
    ++i_;  // (
    if (looking_at("?:")) {
      i_ += 2;
    } else if (looking_at("?P<") || looking_at("?<")) {
      if (looking_at("?<=") || looking_at("?<!")) fail("lookbehind, which a grammar cannot express");
      const size_t close = p_.find('>', i_);
      if (close == std::string_view::npos) fail("an unterminated group name");
      i_ = close + 1;
    } else if (looking_at("?=") || looking_at("?!")) {
      fail("lookahead, which a grammar cannot express");
    } else if (looking_at("?")) {
      fail("an inline flag or extension group, which is not supported");
    }
    if (++depth_ > kMaxGroupDepth) fail(fmt::format("groups nested deeper than {}", kMaxGroupDepth));
    Expr inner = alternation();
    --depth_;
    if (at_end() || peek() != ')') fail("an unclosed '('");
    ++i_;
    return inner;
  }

  Expr quantified(Expr atom) {
    while (!at_end()) {
      int64_t min = 0, max = 0;
      const char c = peek();
      if (c == '*') {
        min = 0, max = Expr::kUnbounded;
        ++i_;
      } else if (c == '+') {
        min = 1, max = Expr::kUnbounded;
        ++i_;
      } else if (c == '?') {
        min = 0, max = 1;
        ++i_;
      } else if (c == '{' && braces(min, max)) {
      } else {
        break;
      }
      if (!at_end() && peek() == '?') {
        ++i_;  // lazy: the same strings
      } else if (!at_end() && peek() == '+') {
        fail("a possessive quantifier, which is not supported");
      }
      atom = Expr::repeat(std::move(atom), min, max);
    }
    return atom;
  }

  // {n}, {n,}, {n,m}; false (nothing consumed) when what follows '{' is not one.
  bool braces(int64_t& min, int64_t& max) {
    size_t j = i_ + 1;
    const auto number = [&](int64_t& out) {
      const size_t start = j;
      out = 0;
      while (j < p_.size() && p_[j] >= '0' && p_[j] <= '9') {
        out = out * 10 + (p_[j] - '0');
        if (out > std::numeric_limits<int32_t>::max()) fail("a repetition count too large");
        ++j;
      }
      return j > start;
    };
    if (!number(min)) return false;
    if (j < p_.size() && p_[j] == '}') {
      max = min;
    } else if (j < p_.size() && p_[j] == ',') {
      ++j;
      if (!number(max)) max = Expr::kUnbounded;
      if (j >= p_.size() || p_[j] != '}') return false;
      if (max != Expr::kUnbounded && max < min) fail(fmt::format("the repetition {{{},{}}} with max < min", min, max));
    } else {
      return false;
    }
    i_ = j + 1;
    return true;
  }

  uint32_t next_codepoint() {
    const auto cp = decode_utf8(p_, i_);
    if (!cp) fail("invalid UTF-8");
    return *cp;
  }

  uint32_t hex(size_t digits) {
    const auto value = decode_hex(p_, i_, digits);
    if (!value) fail("a bad or short hexadecimal escape");
    return *value;
  }

  // An escape after the backslash: a class (\d ...) or one code point. `in_class`: inside [...].
  CodepointRanges escape(bool in_class) {
    if (at_end()) fail("a trailing backslash");
    const char c = peek();
    ++i_;
    switch (c) {
      case 'd': return kDigits;
      case 'D': return complement(kDigits);
      case 'w': return kWord;
      case 'W': return complement(kWord);
      case 's': return kSpace;
      case 'S': return complement(kSpace);
      case 'n': return {{'\n', '\n'}};
      case 'r': return {{'\r', '\r'}};
      case 't': return {{'\t', '\t'}};
      case 'f': return {{'\f', '\f'}};
      case 'v': return {{'\v', '\v'}};
      case '0': return {{0, 0}};
      case 'x': { const uint32_t v = hex(2); return {{v, v}}; }
      case 'u': { const uint32_t v = hex(4); return {{v, v}}; }
      case 'b':
        if (in_class) return {{'\b', '\b'}};
        fail("\\b (a word boundary), which a grammar cannot express");
      case 'B': fail("\\B (a word boundary), which a grammar cannot express");
      case 'A': case 'Z': case 'z': case 'G': fail(fmt::format("\\{} (an anchor), which is not supported", c));
      default:
        if (c >= '1' && c <= '9') fail("a backreference, which a grammar cannot express");
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) fail(fmt::format("the unknown escape \\{}", c));
        --i_;
        const uint32_t cp = next_codepoint();  // escaped punctuation or any other character
        return {{cp, cp}};
    }
  }

  Expr escape_atom() {
    ++i_;  // backslash
    return chars(escape(false));
  }

  CodepointRanges char_class() {
    ++i_;  // [
    bool negated = false;
    if (!at_end() && peek() == '^') {
      negated = true;
      ++i_;
    }
    CodepointRanges ranges;
    bool first = true;
    while (true) {
      if (at_end()) fail("an unclosed '['");
      if (peek() == ']' && !first) break;
      if (looking_at("[:")) fail("a POSIX class [:...:], which is not supported");
      first = false;
      // One item: a class escape, or a character that may start a range.
      CodepointRanges item;
      uint32_t lo = 0;
      bool single = false;
      if (peek() == '\\') {
        ++i_;
        item = escape(true);
        single = item.size() == 1 && item[0].first == item[0].second;
        lo = single ? item[0].first : 0;
      } else {
        lo = next_codepoint();
        single = true;
        item = {{lo, lo}};
      }
      if (single && looking_at("-") && i_ + 1 < p_.size() && p_[i_ + 1] != ']') {
        ++i_;  // -
        uint32_t hi = 0;
        if (peek() == '\\') {
          ++i_;
          const CodepointRanges end = escape(true);
          if (end.size() != 1 || end[0].first != end[0].second) fail("a range ending in a class");
          hi = end[0].first;
        } else {
          hi = next_codepoint();
        }
        if (hi < lo) fail(fmt::format("the reversed range U+{:04X}-U+{:04X}", lo, hi));
        item = {{lo, hi}};
      }
      ranges = merged(std::move(ranges), item);
    }
    ++i_;  // ]
    return negated ? complement(ranges) : normalized(std::move(ranges));
  }

  // One character from `ranges`, as the bytes the context writes it with.
  Expr chars(const CodepointRanges& ranges) const {
    if (options_.context == RegexContext::raw) return utf8_class(ranges);
    // Inside a JSON string: '"' and '\' escaped, control characters left out.
    CodepointRanges plain;
    for (auto [lo, hi] : normalized(ranges)) {
      if (hi < 0x20) continue;
      plain.emplace_back(std::max<uint32_t>(lo, 0x20), hi);
    }
    plain = normalized(std::move(plain));
    CodepointRanges without_specials = complement(merged({{0, 0x1F}}, {{'"', '"'}, {'\\', '\\'}}));
    CodepointRanges kept;
    for (const auto& [lo, hi] : plain) {
      for (const auto& [a, b] : without_specials) {
        const uint32_t l = std::max(lo, a), h = std::min(hi, b);
        if (l <= h) kept.emplace_back(l, h);
      }
    }
    std::vector<Expr> alternatives{utf8_class(kept)};
    if (contains(plain, '"')) alternatives.push_back(Expr::literal("\\\""));
    if (contains(plain, '\\')) alternatives.push_back(Expr::literal("\\\\"));
    return Expr::any_of(std::move(alternatives));
  }

  std::string_view p_;
  RegexOptions options_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

Expr regex_expr(std::string_view pattern, const RegexOptions& options) { return RegexParser(pattern, options).parse(); }

bool regex_is_anchored(std::string_view pattern) {
  if (pattern.size() < 2 || pattern.front() != '^' || pattern.back() != '$') return false;
  size_t backslashes = 0;
  for (size_t i = pattern.size() - 1; i > 0 && pattern[i - 1] == '\\'; --i) ++backslashes;
  return backslashes % 2 == 0;
}

}  // namespace sabre::structured
