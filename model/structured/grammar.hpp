#pragma once
// A context-free grammar over bytes: what every guided-decoding constraint (JSON Schema, regular
// expression, choice, GBNF) is compiled into before it is matched against tokens.
//
// Constraints are written as expressions (Expr: byte sets, sequences, alternatives, rule references and
// bounded or unbounded repetition); Grammar lowers them into flat rules whose alternatives are runs of
// elements ending in `end`, the form GrammarMatcher walks. Working on bytes rather than characters lets a
// token match whatever bytes it carries, including a piece of a multi-byte UTF-8 character: characters and
// character classes are expanded into their UTF-8 byte sequences when the expression is built
// (utf8_ranges.hpp).
//
// Repetition becomes right recursion (R ::= x R | empty), which the matcher runs in constant stack depth.
// Left recursion cannot be matched that way, so Grammar::lower refuses it, naming the rule (a rule that
// reaches itself only through tail references, as a repetition of something that may be empty does, is
// fine: the matcher expands each parse once).

#include <array>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sabre::structured {

// A constraint that cannot be compiled: its message names the rule, keyword or position at fault.
class GrammarError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// A set of bytes: bit b of words[b / 64].
struct ByteSet {
  std::array<uint64_t, 4> words{};

  static ByteSet of(uint8_t b) { ByteSet s; s.add(b); return s; }
  static ByteSet range(uint8_t lo, uint8_t hi) { ByteSet s; s.add_range(lo, hi); return s; }
  void add(uint8_t b) { words[b >> 6] |= uint64_t{1} << (b & 63); }
  void add_range(uint8_t lo, uint8_t hi) { for (int b = lo; b <= hi; ++b) add(static_cast<uint8_t>(b)); }
  bool contains(uint8_t b) const { return (words[b >> 6] >> (b & 63)) & 1; }
  bool empty() const { return (words[0] | words[1] | words[2] | words[3]) == 0; }
  ByteSet& operator|=(const ByteSet& o) { for (int i = 0; i < 4; ++i) words[i] |= o.words[i]; return *this; }
  bool operator==(const ByteSet&) const = default;
};

// A grammar expression. Values, not pointers: a constraint's expression tree is small.
struct Expr {
  enum class Kind : uint8_t { bytes, sequence, choice, rule, repeat };
  static constexpr int64_t kUnbounded = -1;

  Kind kind = Kind::sequence;   // an empty sequence matches the empty string
  ByteSet set;                  // bytes: one byte from this set
  std::vector<Expr> items;      // sequence: in order; choice: alternatives; repeat: the one repeated
  std::string name;             // rule: the rule referred to
  int64_t min = 0;              // repeat: at least min times
  int64_t max = 0;              //         and at most max (kUnbounded: no limit)

  static Expr empty() { return {}; }
  static Expr byte_set(ByteSet s) { Expr e; e.kind = Kind::bytes; e.set = s; return e; }
  static Expr literal(std::string_view bytes);
  static Expr seq(std::vector<Expr> items);
  static Expr any_of(std::vector<Expr> alternatives);
  static Expr ref(std::string rule) { Expr e; e.kind = Kind::rule; e.name = std::move(rule); return e; }
  static Expr repeat(Expr item, int64_t min, int64_t max);
  static Expr optional(Expr item) { return repeat(std::move(item), 0, 1); }
  static Expr star(Expr item) { return repeat(std::move(item), 0, kUnbounded); }
  static Expr plus(Expr item) { return repeat(std::move(item), 1, kUnbounded); }
};

// Limits that keep a hostile constraint from exhausting memory at compile time.
struct GrammarLimits {
  int64_t max_elements = 2'000'000;   // flat elements of the lowered grammar
  int64_t max_repeat = 10'000;        // the largest finite bound of one repetition
};

// The flat form. Position p is an index into `elements`; each rule's alternatives start at the positions
// in `alternatives[rule]` and run to an `end` element.
struct Grammar {
  struct Element {
    enum class Kind : uint8_t { end, bytes, rule };
    Kind kind = Kind::end;
    uint32_t value = 0;  // bytes: index into byte_sets; rule: the rule's index
  };

  std::vector<Element> elements;
  std::vector<ByteSet> byte_sets;
  std::vector<std::vector<uint32_t>> alternatives;  // [rule] -> start positions
  std::vector<std::string> rule_names;              // [rule], for errors and to_text
  uint32_t root = 0;

  // Lowers named rules into the flat form, starting at `root`. Throws GrammarError for a reference to an
  // undefined rule, left recursion (naming the rule), or a grammar past `limits`.
  static Grammar lower(const std::map<std::string, Expr>& rules, const std::string& root,
                       const GrammarLimits& limits = {});

  const Element& at(uint32_t position) const { return elements[position]; }
  const ByteSet& set_at(uint32_t position) const { return byte_sets[elements[position].value]; }
  // The grammar in a GBNF-like notation, one rule per line (tests and debugging).
  std::string to_text() const;
};

}  // namespace sabre::structured
