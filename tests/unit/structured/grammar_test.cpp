// The grammar form, its matcher and GBNF: lowering, repetition, left recursion refused, ambiguity kept.
#include <catch2/catch.hpp>

#include "grammar_support.hpp"
#include "model/structured/gbnf.hpp"
#include "model/structured/regex_grammar.hpp"
#include "model/structured/utf8_ranges.hpp"

namespace sabre::structured {
namespace {

using test::lowered;
using test::matches;

TEST_CASE("repetition bounds are exact", "[structured][grammar]") {
  const auto g = lowered(Expr::repeat(Expr::literal("ab"), 2, 4));
  CHECK_FALSE(matches(g, "ab"));
  CHECK(matches(g, "abab"));
  CHECK(matches(g, "ababab"));
  CHECK(matches(g, "abababab"));
  CHECK_FALSE(matches(g, "ababababab"));
  CHECK_FALSE(matches(g, "aba"));
}

TEST_CASE("a long repetition keeps one short stack (tail calls)", "[structured][grammar]") {
  const auto g = lowered(Expr::star(Expr::literal("x")));
  GrammarMatcher matcher(g);
  StackSet set = matcher.initial(), next;
  for (int i = 0; i < 10000; ++i) {
    matcher.advance(set, 'x', next);
    set.swap(next);
  }
  CHECK(GrammarMatcher::can_end(set));
  CHECK(matcher.content_key(set) == matcher.content_key(matcher.initial()));
  CHECK(matcher.frame_count() < 10);
}

TEST_CASE("left recursion is refused, naming the rule", "[structured][grammar]") {
  RuleMap rules;
  rules["root"] = Expr::ref("list");
  rules["list"] = Expr::any_of({Expr::seq({Expr::ref("list"), Expr::literal(",x")}), Expr::literal("x")});
  CHECK_THROWS_WITH(Grammar::lower(rules, "root"), Catch::Contains("\"list\" is left-recursive"));
  RuleMap indirect;
  indirect["root"] = Expr::seq({Expr::ref("a")});
  indirect["a"] = Expr::seq({Expr::optional(Expr::literal("-")), Expr::ref("b")});
  indirect["b"] = Expr::any_of({Expr::seq({Expr::ref("a"), Expr::literal("x")}), Expr::literal("y")});
  CHECK_THROWS_AS(Grammar::lower(indirect, "root"), GrammarError);
}

TEST_CASE("exponentially ambiguous grammars are refused, long chains of empty rules still match",
          "[structured][grammar]") {
  // ((((a?){2}){2})...){2}, 30 deep: 2^30 ways to match nothing.
  std::string nested = "a?";
  for (int i = 0; i < 30; ++i) nested = "(" + nested + "){2}";
  const auto ambiguous = lowered(regex_expr(nested));
  CHECK_THROWS_AS(GrammarMatcher(ambiguous), GrammarTooAmbiguous);
  // 6001 places where "b" may come: more parses than a matcher keeps.
  CHECK_THROWS_AS(GrammarMatcher(lowered(regex_expr("(a?){6000}b"))), GrammarTooAmbiguous);
  // A chain of 20000 rules, each starting with the one before: the expansion is a work list, with no
  // recursion limit, and the parse's stack is 20000 deep.
  RuleMap chain;
  chain["r0"] = Expr::literal("b");
  for (int i = 1; i <= 20000; ++i) {
    chain["r" + std::to_string(i)] = Expr::seq({Expr::ref("r" + std::to_string(i - 1)), Expr::literal("x")});
  }
  chain["root"] = Expr::ref("r20000");
  const auto deep = lowered(chain);
  CHECK(matches(deep, "b" + std::string(20000, 'x')));
  CHECK_FALSE(matches(deep, "b" + std::string(19999, 'x')));
  // The same parse reached two ways is explored once: linear, not 2^40.
  RuleMap doubled;
  doubled["root"] = Expr::ref("r40");
  doubled["r0"] = Expr::literal("x");
  for (int i = 1; i <= 40; ++i) {
    doubled["r" + std::to_string(i)] = Expr::any_of({Expr::ref("r" + std::to_string(i - 1)), Expr::ref("r" + std::to_string(i - 1))});
  }
  CHECK(matches(lowered(doubled), "x"));
}

TEST_CASE("an undefined rule is an error naming it", "[structured][grammar]") {
  RuleMap rules;
  rules["root"] = Expr::ref("missing");
  CHECK_THROWS_WITH(Grammar::lower(rules, "root"), Catch::Contains("\"missing\" is not defined"));
}

TEST_CASE("UTF-8 classes encode exactly their code points", "[structured][grammar]") {
  // Every code point of a few ranges crossing the encoding-length boundaries, in and out of the class.
  const CodepointRanges ranges{{0x70, 0x90}, {0x7F0, 0x810}, {0xFFF0, 0x10010}, {0x10FFF0, 0x10FFFF}};
  const auto g = lowered(utf8_class(ranges));
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp += (cp < 0x11000 ? 1 : 251)) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    bool inside = false;
    for (const auto& [lo, hi] : ranges) inside = inside || (cp >= lo && cp <= hi);
    INFO("U+" << std::hex << cp);
    CHECK(matches(g, utf8_encode(cp)) == inside);
  }
}

TEST_CASE("GBNF grammars parse and match", "[structured][gbnf]") {
  const auto g = lowered(gbnf_rules(R"(
      # yes/no answers, or a list of numbers
      root   ::= answer | "[" number ("," number)* "]"
      answer ::= "yes" | "no"
      number ::= "-"? [1-9] [0-9]{0,2}
                 | "0"
  )"));
  CHECK(matches(g, "yes"));
  CHECK(matches(g, "[1,-20,300]"));
  CHECK(matches(g, "[0]"));
  CHECK_FALSE(matches(g, "[01]"));
  CHECK_FALSE(matches(g, "[1000]"));
  CHECK_FALSE(matches(g, "maybe"));
  const auto classes = lowered(gbnf_rules("root ::= [^\"\\\\\\n]* \"\\\"\" . [\\u00e0-\\u00ef]"));
  CHECK(matches(classes, "ab\"x\xC3\xA9"));
  CHECK_FALSE(matches(classes, "a\nb\"x\xC3\xA9"));
}

TEST_CASE("GBNF errors name the line and column", "[structured][gbnf]") {
  CHECK_THROWS_WITH(gbnf_rules("root ::= \"a\"\nitem ::= (\"b\""), Catch::Contains("line 2"));
  CHECK_THROWS_WITH(gbnf_rules("start ::= \"a\""), Catch::Contains("no rule \"root\""));
  CHECK_THROWS_WITH(gbnf_rules("root ::= \"a\"\nroot ::= \"b\""), Catch::Contains("defined twice"));
  CHECK_THROWS_WITH(gbnf_rules("root ::= \"\\q\""), Catch::Contains("unknown escape"));
  CHECK_THROWS_WITH(lowered(gbnf_rules("root ::= item\nitem ::= root \"x\" | \"y\"")), Catch::Contains("left-recursive"));
}

}  // namespace
}  // namespace sabre::structured

namespace sabre::structured {
namespace {

TEST_CASE("GBNF and regex sources must be valid UTF-8, escapes whole", "[structured][gbnf]") {
  CHECK_THROWS_WITH(gbnf_rules("root ::= \"\xC3\x28\""), Catch::Contains("invalid UTF-8"));  // a bad continuation
  CHECK_THROWS_WITH(gbnf_rules("root ::= \"\\x4\""), Catch::Contains("hexadecimal"));
  CHECK_THROWS_WITH(regex_expr("\xE2\x82"), Catch::Contains("invalid UTF-8"));
  CHECK_THROWS_WITH(regex_expr("\\u12G4"), Catch::Contains("hexadecimal"));
  CHECK(test::matches(test::lowered(gbnf_rules("root ::= \"\\u00e9\" [\\x41-\\x43]")), "\xC3\xA9" "B"));
}

}  // namespace
}  // namespace sabre::structured
