#include "model/structured/gbnf.hpp"

#include <fmt/format.h>

#include <limits>

#include "model/structured/utf8_ranges.hpp"

namespace sabre::structured {
namespace {

constexpr int kMaxNesting = 200;

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

class GbnfParser {
 public:
  explicit GbnfParser(std::string_view text) : s_(text) {}

  RuleMap parse() {
    skip_space();
    while (!at_end()) {
      const std::string name = rule_name();
      skip_space();
      if (!consume("::=")) fail(fmt::format("expected '::=' after the rule name \"{}\"", name));
      if (rules_.count(name)) fail(fmt::format("the rule \"{}\" is defined twice", name));
      rules_[name] = alternatives(0);
      skip_space();
    }
    if (!rules_.count("root")) throw GrammarError("grammar: no rule \"root\" (the output must match rule root)");
    return std::move(rules_);
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    size_t line = 1, column = 1;
    for (size_t k = 0; k < i_ && k < s_.size(); ++k) {
      if (s_[k] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw GrammarError(fmt::format("grammar: {} at line {} column {}", what, line, column));
  }

  bool at_end() const { return i_ >= s_.size(); }
  bool consume(std::string_view t) {
    if (s_.substr(i_, t.size()) != t) return false;
    i_ += t.size();
    return true;
  }

  void skip_space() {
    while (!at_end()) {
      const char c = s_[i_];
      if (c == '#') {
        while (!at_end() && s_[i_] != '\n') ++i_;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++i_;
      } else {
        break;
      }
    }
  }

  std::string rule_name() {
    const size_t start = i_;
    while (!at_end() && name_char(s_[i_])) ++i_;
    if (i_ == start) fail("expected a rule name");
    return std::string(s_.substr(start, i_ - start));
  }

  // Whether a rule definition (`name ::=`) starts here: the end of the current rule's body.
  bool at_definition() const {
    size_t j = i_;
    while (j < s_.size() && name_char(s_[j])) ++j;
    if (j == i_) return false;
    while (j < s_.size() && (s_[j] == ' ' || s_[j] == '\t' || s_[j] == '\n' || s_[j] == '\r')) ++j;
    return s_.substr(j, 3) == "::=";
  }

  Expr alternatives(int depth) {
    if (depth > kMaxNesting) fail(fmt::format("groups nested deeper than {}", kMaxNesting));
    std::vector<Expr> alternatives{sequence(depth)};
    while (!at_end() && s_[i_] == '|') {
      ++i_;
      alternatives.push_back(sequence(depth));
    }
    return Expr::any_of(std::move(alternatives));
  }

  Expr sequence(int depth) {
    std::vector<Expr> items;
    while (true) {
      skip_space();
      if (at_end() || s_[i_] == '|' || s_[i_] == ')' || at_definition_outside(depth)) break;
      items.push_back(postfix(term(depth)));
    }
    return Expr::seq(std::move(items));
  }

  // A definition can only start at the top level of a body (inside a group a name is a reference).
  bool at_definition_outside(int depth) const { return depth == 0 && at_definition(); }

  Expr term(int depth) {
    const char c = s_[i_];
    if (c == '"') return literal();
    if (c == '[') return char_class();
    if (c == '.') {
      ++i_;
      return utf8_class({{0, kMaxCodepoint}});
    }
    if (c == '(') {
      ++i_;
      Expr inner = alternatives(depth + 1);
      skip_space();
      if (at_end() || s_[i_] != ')') fail("an unclosed '('");
      ++i_;
      return inner;
    }
    if (name_char(c)) return Expr::ref(rule_name());
    fail(fmt::format("unexpected '{}'", c));
  }

  Expr postfix(Expr e) {
    while (!at_end()) {
      const char c = s_[i_];
      if (c == '*') {
        ++i_;
        e = Expr::star(std::move(e));
      } else if (c == '+') {
        ++i_;
        e = Expr::plus(std::move(e));
      } else if (c == '?') {
        ++i_;
        e = Expr::optional(std::move(e));
      } else if (c == '{') {
        ++i_;
        skip_space();
        const int64_t min = number();
        int64_t max = min;
        skip_space();
        if (consume(",")) {
          skip_space();
          max = (!at_end() && s_[i_] >= '0' && s_[i_] <= '9') ? number() : Expr::kUnbounded;
          skip_space();
        }
        if (!consume("}")) fail("expected '}' to close a repetition");
        if (max != Expr::kUnbounded && max < min) fail(fmt::format("the repetition {{{},{}}} with max < min", min, max));
        e = Expr::repeat(std::move(e), min, max);
      } else {
        break;
      }
    }
    return e;
  }

  int64_t number() {
    if (at_end() || s_[i_] < '0' || s_[i_] > '9') fail("expected a number");
    int64_t v = 0;
    while (!at_end() && s_[i_] >= '0' && s_[i_] <= '9') {
      v = v * 10 + (s_[i_++] - '0');
      if (v > std::numeric_limits<int32_t>::max()) fail("a repetition count too large");
    }
    return v;
  }

  uint32_t hex(size_t digits) {
    const auto value = decode_hex(s_, i_, digits);
    if (!value) fail("a bad or short hexadecimal escape");
    return *value;
  }

  // One character of a literal or class, escapes decoded.
  uint32_t character() {
    if (at_end()) fail("an unterminated literal or class");
    if (s_[i_] == '\\') {
      ++i_;
      if (at_end()) fail("a trailing backslash");
      const char c = s_[i_++];
      switch (c) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case 'x': return hex(2);
        case 'u': return hex(4);
        case 'U': return hex(8);
        case '\\': case '"': case '[': case ']': case '-': case '^': case '/': return static_cast<uint8_t>(c);
        default: --i_; fail(fmt::format("the unknown escape \\{}", c));
      }
    }
    const auto cp = decode_utf8(s_, i_);
    if (!cp) fail("invalid UTF-8");
    return *cp;
  }

  Expr literal() {
    ++i_;  // "
    std::string bytes;
    while (true) {
      if (at_end()) fail("an unterminated string literal");
      if (s_[i_] == '"') break;
      bytes += utf8_encode(character());
    }
    ++i_;
    return Expr::literal(bytes);
  }

  Expr char_class() {
    ++i_;  // [
    const bool negated = consume("^");
    CodepointRanges ranges;
    while (true) {
      if (at_end()) fail("an unclosed '['");
      if (s_[i_] == ']') break;
      const uint32_t lo = character();
      uint32_t hi = lo;
      if (s_.substr(i_, 1) == "-" && s_.substr(i_ + 1, 1) != "]") {
        ++i_;
        hi = character();
        if (hi < lo) fail(fmt::format("the reversed range U+{:04X}-U+{:04X}", lo, hi));
      }
      ranges.emplace_back(lo, hi);
    }
    ++i_;  // ]
    return utf8_class(negated ? complement(ranges) : ranges);
  }

  std::string_view s_;
  size_t i_ = 0;
  RuleMap rules_;
};

}  // namespace

RuleMap gbnf_rules(std::string_view text) { return GbnfParser(text).parse(); }

}  // namespace sabre::structured
