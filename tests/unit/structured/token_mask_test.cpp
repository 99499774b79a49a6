// Token masks: the trie walk allows exactly the tokens a brute-force check allows (every token's bytes fed
// to the matcher one by one), cached masks equal fresh ones, and end tokens come only where the grammar
// may end.
#include <catch2/catch.hpp>

#include <random>

#include "grammar_support.hpp"
#include "model/structured/grammar_constraint.hpp"
#include "model/structured/regex_grammar.hpp"
#include "model/structured/token_mask.hpp"

namespace sabre::structured {
namespace {

using test::lowered;

// A vocabulary of every string over "ab{}\"\\:, 1" up to 3 bytes, plus a few UTF-8 pieces and special
// tokens (no bytes).
std::shared_ptr<const TokenVocabulary> test_vocabulary() {
  const std::string alphabet = "ab{}\"\\:, 1";
  std::vector<std::optional<std::string>> tokens{std::nullopt, std::nullopt};  // 0, 1: special
  std::vector<std::string> layer{""};
  for (int n = 0; n < 3; ++n) {
    std::vector<std::string> next;
    for (const auto& s : layer) {
      for (char c : alphabet) next.push_back(s + c);
    }
    for (const auto& s : next) tokens.emplace_back(s);
    layer = std::move(next);
  }
  tokens.emplace_back("\xC3");      // the first byte of é
  tokens.emplace_back("\xA9");      // its second
  tokens.emplace_back("\xC3\xA9");  // all of it
  tokens.emplace_back("ab");        // a duplicate of an earlier token's bytes
  return std::make_shared<const TokenVocabulary>(std::move(tokens), 1200);
}

std::vector<uint32_t> brute_force(GrammarMatcher& matcher, const StackSet& set, const TokenVocabulary& vocabulary) {
  std::vector<uint32_t> words(static_cast<size_t>((vocabulary.size() + 31) / 32), 0);
  for (int32_t token = 0; token < vocabulary.size(); ++token) {
    const std::string* bytes = vocabulary.bytes(token);
    if (!bytes) continue;
    StackSet s = set, next;
    for (char c : *bytes) {
      matcher.advance(s, static_cast<uint8_t>(c), next);
      s.swap(next);
    }
    if (!s.empty()) words[static_cast<size_t>(token) / 32] |= 1u << (token % 32);
  }
  return words;
}

TEST_CASE("the trie walk allows exactly the tokens a brute-force check allows", "[structured][mask]") {
  const auto vocabulary = test_vocabulary();
  std::vector<std::shared_ptr<const Grammar>> grammars{
      lowered(json_object_rules()),
      lowered(regex_expr("a(b|\\{)*é?1{2,3}")),
      lowered(json_schema_rules(R"({"type":"object","properties":{"a":{"type":"string"},"b":{"enum":[1,11]}}})")),
  };
  std::mt19937 rng(7);
  for (const auto& grammar : grammars) {
    GrammarMatcher matcher(grammar);
    StackSet set = matcher.initial();
    // Walk a random path through the grammar, comparing the masks at every state on the way.
    for (int step = 0; step < 40 && !set.empty(); ++step) {
      std::vector<uint32_t> words(static_cast<size_t>((vocabulary->size() + 31) / 32), 0);
      add_grammar_tokens(matcher, set, *vocabulary, words);
      REQUIRE(words == brute_force(matcher, set, *vocabulary));
      std::vector<int32_t> allowed;
      for (int32_t t = 0; t < vocabulary->size(); ++t) {
        if ((words[static_cast<size_t>(t) / 32] >> (t % 32)) & 1) allowed.push_back(t);
      }
      if (allowed.empty()) break;
      const int32_t token = allowed[std::uniform_int_distribution<size_t>(0, allowed.size() - 1)(rng)];
      StackSet next;
      for (char c : *vocabulary->bytes(token)) {
        matcher.advance(set, static_cast<uint8_t>(c), next);
        set.swap(next);
      }
      REQUIRE_FALSE(set.empty());
    }
  }
}

bool allowed(const std::vector<uint32_t>& words, int32_t token) {
  return (words[static_cast<size_t>(token) / 32] >> (token % 32)) & 1;
}

TEST_CASE("a constraint allows the end tokens only where the grammar may end", "[structured][mask]") {
  const auto vocabulary = test_vocabulary();
  auto compiled = std::make_shared<const CompiledGrammar>(lowered(regex_expr("ab|a")), vocabulary,
                                                          std::vector<int32_t>{1});
  const std::vector<int32_t> ends{0};
  auto constraint = compiled->start(ends);
  const auto token_of = [&](const std::string& bytes) {
    for (int32_t t = 0; t < vocabulary->size(); ++t) {
      if (vocabulary->bytes(t) && *vocabulary->bytes(t) == bytes) return t;
    }
    FAIL("no token " << bytes);
    return -1;
  };
  std::vector<uint32_t> words(static_cast<size_t>((vocabulary->size() + 31) / 32));
  const auto mask = [&](std::vector<int32_t> provisional) {
    std::fill(words.begin(), words.end(), 0u);
    constraint->allowed_tokens(provisional, words);
    return words;
  };
  auto start = mask({});
  CHECK(allowed(start, token_of("a")));
  CHECK(allowed(start, token_of("ab")));
  CHECK_FALSE(allowed(start, token_of("b")));
  CHECK_FALSE(allowed(start, 0));  // the empty output is not a match
  const auto after_a = mask({token_of("a")});
  CHECK(allowed(after_a, token_of("b")));
  CHECK(allowed(after_a, 0));       // "a" is complete
  CHECK_FALSE(allowed(after_a, 1));  // the fallback ends are for sequences without ends of their own
  CHECK_FALSE(constraint->only_ends(std::vector<int32_t>{token_of("a")}));
  CHECK(constraint->only_ends(std::vector<int32_t>{token_of("ab")}));
  constraint->commit(token_of("ab"));
  const auto done = mask({});
  CHECK(allowed(done, 0));
  for (int32_t t = 1; t < vocabulary->size(); ++t) CHECK_FALSE(allowed(done, t));
  // Without end tokens of its own, a sequence gets the model's (the fallback) at the end.
  auto no_ends = compiled->start({});
  no_ends->commit(token_of("ab"));
  std::fill(words.begin(), words.end(), 0u);
  no_ends->allowed_tokens({}, words);
  CHECK(allowed(words, 1));
  // Cached masks are shared: the same state in another sequence hits the cache.
  const auto before = compiled->stats();
  auto other = compiled->start(ends);
  std::fill(words.begin(), words.end(), 0u);
  other->allowed_tokens({}, words);
  CHECK(compiled->stats().hits == before.hits + 1);
  CHECK(words == start);
}

}  // namespace
}  // namespace sabre::structured

namespace sabre::structured {

TEST_CASE("a mask past the work budget: refused at compile time, or the sequence may only end",
          "[structured][mask]") {
  const auto vocabulary = test_vocabulary();
  const auto grammar = lowered(regex_expr("(a|b)*c(a|b|c)*"));
  // The first mask's own cost, with a budget that is never reached.
  GrammarMatcher matcher(grammar);
  std::vector<uint32_t> words(static_cast<size_t>((vocabulary->size() + 31) / 32));
  add_grammar_tokens(matcher, matcher.initial(), *vocabulary, words);
  // A budget of one parse step refuses the grammar when it is compiled.
  CHECK_THROWS_AS(CompiledGrammar(grammar, vocabulary, std::vector<int32_t>{1}, 1), GrammarTooAmbiguous);
  const size_t frames = matcher.frame_count();
  CHECK_THROWS_AS(add_grammar_tokens(matcher, matcher.initial(), *vocabulary, words, 1), GrammarTooAmbiguous);
  CHECK(matcher.frame_count() == frames);  // the walk's scratch frames were given back
  // With the default budget it compiles and masks as before.
  auto compiled = std::make_shared<const CompiledGrammar>(grammar, vocabulary, std::vector<int32_t>{1});
  auto constraint = compiled->start(std::vector<int32_t>{0});
  std::fill(words.begin(), words.end(), 0u);
  constraint->allowed_tokens({}, words);
  CHECK(std::any_of(words.begin(), words.end(), [](uint32_t w) { return w != 0; }));
}

}  // namespace sabre::structured
