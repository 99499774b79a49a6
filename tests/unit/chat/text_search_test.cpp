// TextSearch finds what std::string_view's find and rfind find, for short needles (which it hands to
// them) and long ones (its own linear-time search), including the repetitive texts that make the
// standard search quadratic.

#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "model/chat/text_search.hpp"

using sabre::chat::TextSearch;

namespace {

// Text over a two-letter alphabet, so that needles occur often and match long prefixes before failing.
std::string random_text(std::mt19937& rng, size_t length) {
  std::bernoulli_distribution coin(0.8);
  std::string text;
  for (size_t i = 0; i < length; ++i) text.push_back(coin(rng) ? 'a' : 'b');
  return text;
}

}  // namespace

TEST_CASE("text search: find_in and rfind_in agree with std::string_view at every position", "[chat]") {
  std::mt19937 rng(20261207);
  for (int round = 0; round < 300; ++round) {
    const std::string text = random_text(rng, std::uniform_int_distribution<size_t>(0, 400)(rng));
    std::string needle = random_text(rng, std::uniform_int_distribution<size_t>(0, 80)(rng));
    if (round % 3 == 0 && text.size() > 40) {  // a needle cut from the text, so that it occurs
      const size_t start = std::uniform_int_distribution<size_t>(0, text.size() - 40)(rng);
      needle = text.substr(start, std::uniform_int_distribution<size_t>(33, 40)(rng));
    }
    const TextSearch search(needle);
    const std::string_view view(text);
    INFO("text " << text << "\nneedle " << needle);
    for (size_t pos = 0; pos <= text.size() + 1; ++pos) {
      INFO("pos " << pos);
      REQUIRE(search.find_in(view, pos) == view.find(needle, pos));
      REQUIRE(search.rfind_in(view, pos) == view.rfind(needle, pos));
    }
    REQUIRE(search.rfind_in(view) == view.rfind(needle));
  }
}

TEST_CASE("text search: a long needle of repeats in a long text of repeats", "[chat]") {
  const std::string text(1000000, 'a');
  const std::string absent = std::string(500000, 'a') + 'b';
  const TextSearch search(absent);
  CHECK(search.find_in(text) == TextSearch::npos);
  CHECK(search.rfind_in(text) == TextSearch::npos);
  const std::string present = std::string(500000, 'a');
  CHECK(TextSearch(present).find_in(text, 7) == 7);
  CHECK(TextSearch(present).rfind_in(text) == 500000);
  CHECK(TextSearch(present).rfind_in(text, 3) == 3);
}
