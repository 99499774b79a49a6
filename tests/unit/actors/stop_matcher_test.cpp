// Stop strings over streamed text deltas: held-back prefixes, matches spanning deltas, several and
// overlapping candidates, multi-byte UTF-8, empty deltas, include_stop_str_in_output and flush.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "actors/stop_matcher.hpp"

using namespace sabre;

namespace {

struct Streamed {
  std::vector<std::string> pieces;  // what push returned, one per delta
  std::string text;                 // everything emitted, flush included
  std::optional<size_t> stop_index;
};

Streamed stream(StopMatcher& matcher, const std::vector<std::string>& deltas) {
  Streamed out;
  for (const auto& delta : deltas) {
    auto m = matcher.push(delta);
    out.pieces.push_back(m.text);
    out.text += m.text;
    if (m.stop_index) {
      out.stop_index = m.stop_index;
      break;
    }
  }
  out.text += matcher.flush();
  return out;
}

// The text a whole-string search gives: everything before the earliest stop string.
std::string reference_cut(const std::string& text, const std::vector<std::string>& stops) {
  size_t cut = text.size();
  for (const auto& s : stops) cut = std::min(cut, text.find(s) == std::string::npos ? cut : text.find(s));
  return text.substr(0, cut);
}

}  // namespace

TEST_CASE("text with no possible stop start is emitted at once", "[stop_matcher]") {
  StopMatcher matcher({"STOP"});
  CHECK(matcher.push("hello ").text == "hello ");
  CHECK(matcher.push("world").text == "world");
  CHECK(matcher.flush().empty());
  CHECK_FALSE(matcher.stopped());
}

TEST_CASE("a stop string split over several deltas is held back and cut", "[stop_matcher]") {
  StopMatcher matcher({"</end>"});
  auto a = matcher.push("answer: 42<");
  CHECK(a.text == "answer: 42");
  CHECK_FALSE(a.stop_index);
  auto b = matcher.push("/e");
  CHECK(b.text.empty());
  auto c = matcher.push("n");
  CHECK(c.text.empty());
  auto d = matcher.push("d> and more");
  CHECK(d.text.empty());
  REQUIRE(d.stop_index);
  CHECK(*d.stop_index == 0);
  CHECK(matcher.stopped());
  CHECK(matcher.flush().empty());  // text after the stop string is dropped
  CHECK_THROWS_AS(matcher.push("x"), std::logic_error);
}

TEST_CASE("a held prefix that turns out not to be a stop string is released", "[stop_matcher]") {
  StopMatcher matcher({"</end>"});
  CHECK(matcher.push("a </e").text == "a ");
  CHECK(matcher.push("x").text == "</ex");
  // At the end of generation the held text comes out by flush.
  CHECK(matcher.push("y </en").text == "y ");
  CHECK(matcher.flush() == "</en");
}

TEST_CASE("the match inside one delta returns the text before it", "[stop_matcher]") {
  StopMatcher matcher({"\n\n"});
  auto m = matcher.push("line one\n\nline two");
  CHECK(m.text == "line one");
  CHECK(m.stop_index == 0u);
}

TEST_CASE("include_stop_str_in_output keeps the stop string", "[stop_matcher]") {
  StopMatcher matcher({"END"}, true);
  CHECK(matcher.push("x E").text == "x ");
  auto m = matcher.push("ND tail");
  CHECK(m.text == "END");
  CHECK(m.stop_index == 0u);
}

TEST_CASE("several stop strings: the earliest start wins, then the listed order", "[stop_matcher]") {
  {
    StopMatcher matcher({"world", "lo w"});
    auto s = stream(matcher, {"hel", "lo wor", "ld"});
    CHECK(s.text == "hel");
    CHECK(s.stop_index == 1u);
  }
  {
    // Both start at the same place: the first listed is reported.
    StopMatcher matcher({"abcd", "ab"});
    auto s = stream(matcher, {"xxa", "bcd"});
    CHECK(s.text == "xx");
    CHECK(s.stop_index == 0u);
  }
}

TEST_CASE("overlapping candidates: a failed partial match may hide a real one", "[stop_matcher]") {
  // "aab": after "aa" the matcher must keep the second 'a' as the possible start of "aab".
  StopMatcher matcher({"aab"});
  auto s = stream(matcher, {"xa", "a", "a", "b", "z"});
  CHECK(s.text == "xa");
  CHECK(s.stop_index == 0u);
  // Self-overlapping "abab" in "ababab...": the first occurrence.
  StopMatcher again({"abab"});
  auto t = stream(again, {"ab", "a", "bab"});
  CHECK(t.text.empty());
  CHECK(t.stop_index == 0u);
}

TEST_CASE("multi-byte UTF-8: stop strings and text with non-ASCII characters", "[stop_matcher]") {
  // "。" is 3 bytes (E3 80 82); "停止" 6 bytes.
  StopMatcher matcher({"停止", "。"});
  auto s = stream(matcher, {"你好", "停", "止了"});
  CHECK(s.text == "你好");
  CHECK(s.stop_index == 0u);
  // A character split across raw byte chunks is never emitted half.
  StopMatcher bytes({"STOP"});
  const std::string euro = "\xE2\x82\xAC";
  CHECK(bytes.push("a\xE2").text == "a");
  CHECK(bytes.push("\x82").text.empty());
  CHECK(bytes.push("\xAC" "b").text == "\xE2\x82\xAC" "b");
  // A stop string sharing the first bytes of a character in the text does not match it.
  StopMatcher shared({"\xE2\x82\xAD"});  // U+20AD, same first two bytes as U+20AC
  CHECK(stream(shared, {euro, "x"}).text == "\xE2\x82\xAC" "x");
}

TEST_CASE("empty deltas change nothing", "[stop_matcher]") {
  StopMatcher matcher({"ab"});
  CHECK(matcher.push("").text.empty());
  CHECK(matcher.push("xa").text == "x");
  CHECK(matcher.push("").text.empty());
  auto m = matcher.push("b");
  CHECK(m.stop_index == 0u);
  CHECK(m.text.empty());
}

TEST_CASE("no stop strings: everything passes through", "[stop_matcher]") {
  StopMatcher matcher({});
  CHECK(matcher.push("anything <").text == "anything <");
  CHECK(matcher.flush().empty());
}

TEST_CASE("an empty stop string is rejected", "[stop_matcher]") {
  CHECK_THROWS_WITH(StopMatcher({"ok", ""}), Catch::Contains("entry 1"));
}

TEST_CASE("any split of a text into deltas gives the whole-string answer", "[stop_matcher]") {
  const std::vector<std::string> stops = {"<|im_end|>", "\n\nUser:", "é!", "aXa"};
  const std::vector<std::string> texts = {
      "Sure. <|im_end|> trailing", "Here\n\nUs\n\nUser: hi", "caf\xC3\xA9! ok", "aXaXa", "<|im_en no stop",
      "plain text without any", "\n\nUser", "aaXaXa <|im_end|>"};
  for (const auto& text : texts) {
    // Every pair of cut points, including empty pieces.
    for (size_t i = 0; i <= text.size(); ++i) {
      for (size_t j = i; j <= text.size(); ++j) {
        StopMatcher matcher(stops);
        auto s = stream(matcher, {text.substr(0, i), text.substr(i, j - i), text.substr(j)});
        INFO("text '" << text << "' cut at " << i << ", " << j);
        REQUIRE(s.text == reference_cut(text, stops));
        REQUIRE(s.stop_index.has_value() == (reference_cut(text, stops).size() != text.size()));
      }
    }
  }
}
