// Regular expressions as grammars, checked against std::regex (ECMAScript), an independent matcher, on
// every string of a small alphabet up to a length, and on the errors that must name what is refused.
#include <catch2/catch.hpp>

#include <regex>

#include "grammar_support.hpp"
#include "model/structured/regex_grammar.hpp"

namespace sabre::structured {
namespace {

using test::lowered;
using test::matches;

// Every string over `alphabet` of length 0..max_length.
std::vector<std::string> all_strings(const std::string& alphabet, size_t max_length) {
  std::vector<std::string> out{""};
  std::vector<std::string> layer{""};
  for (size_t n = 0; n < max_length; ++n) {
    std::vector<std::string> next;
    for (const auto& s : layer) {
      for (char c : alphabet) next.push_back(s + c);
    }
    out.insert(out.end(), next.begin(), next.end());
    layer = std::move(next);
  }
  return out;
}

TEST_CASE("regex grammars accept exactly what std::regex matches in full", "[structured][regex]") {
  const std::vector<std::string> patterns{
      "a*",        "a+b?",        "(ab|b)*a",     "[a-c]{2,3}", "[^a]b*",  "a{2}",      "(a|bc){1,2}c?",
      "a.c",       "\\d+",        "[ab]*c[ab]*",  "(?:ab)+",    "b{0,2}a", "c|ab|",     "[\\w]{1,2}",
      "^a(b|c)*$", "(a*b*)c",     "[b-c-]+",      "a{1,}b",     "\\.a",    "(((a)))b",  "[^\\d]c",
      "(a?)*b",    "(a*)*",       "(|a)+c",       "((a|)b?)*",  "(a*|b)+", "(a?){2,}",
  };
  const auto inputs = all_strings("abc1.-", 4);
  for (const auto& pattern : patterns) {
    INFO("pattern " << pattern);
    const auto grammar = lowered(regex_expr(pattern));
    const std::regex reference(pattern, std::regex::ECMAScript);
    for (const auto& input : inputs) {
      INFO("input \"" << input << "\"");
      CHECK(matches(grammar, input) == std::regex_match(input, reference));
    }
  }
}

TEST_CASE("regex classes and dots match whole UTF-8 characters", "[structured][regex]") {
  const auto dot = lowered(regex_expr("."));
  CHECK(matches(dot, "\xC3\xA9"));          // é, two bytes
  CHECK(matches(dot, "\xE2\x82\xAC"));      // €, three bytes
  CHECK(matches(dot, "\xF0\x9F\x98\x80"));  // 😀, four bytes
  CHECK_FALSE(matches(dot, "\n"));
  CHECK_FALSE(matches(dot, "\xC3"));        // a lone lead byte
  CHECK_FALSE(matches(dot, "\xED\xA0\x80"));  // an encoded surrogate
  const auto range = lowered(regex_expr("[à-ï]+"));
  CHECK(matches(range, "àéï"));
  CHECK_FALSE(matches(range, "ð"));
  const auto negated = lowered(regex_expr("[^é]"));
  CHECK(matches(negated, "e"));
  CHECK(matches(negated, "€"));
  CHECK_FALSE(matches(negated, "é"));
}

TEST_CASE("a regex inside a JSON string writes quotes and backslashes escaped", "[structured][regex]") {
  const RegexOptions json{RegexContext::json_string};
  const auto grammar = lowered(regex_expr("a[\"\\\\]b", json));
  CHECK(matches(grammar, "a\\\"b"));
  CHECK(matches(grammar, "a\\\\b"));
  CHECK_FALSE(matches(grammar, "a\"b"));
  const auto dot = lowered(regex_expr(".", json));
  CHECK_FALSE(matches(dot, "\x01"));  // control characters are left out
  CHECK_FALSE(matches(dot, "\""));
}

TEST_CASE("what a grammar cannot express is refused by name", "[structured][regex]") {
  const auto refused = [](const std::string& pattern, const std::string& words) {
    INFO("pattern " << pattern);
    CHECK_THROWS_WITH(regex_expr(pattern), Catch::Contains(words));
  };
  refused("(a)\\1", "backreference");
  refused("a(?=b)", "lookahead");
  refused("(?<=a)b", "lookbehind");
  refused("\\bword", "word boundary");
  refused("a^b", "anchor");
  refused("a$b", "anchor");
  refused("(ab", "unclosed");
  refused("ab)", "unmatched");
  refused("[ab", "unclosed");
  refused("*a", "nothing to repeat");
  refused("a{3,2}", "max < min");
  refused("[z-a]", "reversed range");
  refused("(?i)a", "inline flag");
  refused("a++", "possessive");
  CHECK_THROWS_WITH(lowered(regex_expr("a{20000}")), Catch::Contains("repetition bound"));
}

}  // namespace
}  // namespace sabre::structured
