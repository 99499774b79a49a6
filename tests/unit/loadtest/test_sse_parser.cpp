#include <catch2/catch.hpp>

#include "sse_parser.hpp"

using sabre::loadtest::SseParser;

namespace {

std::vector<std::string> feed_in_pieces(const std::string& stream, const std::vector<size_t>& cuts) {
  SseParser parser;
  std::vector<std::string> events;
  size_t from = 0;
  for (const size_t cut : cuts) {
    for (auto& e : parser.feed(std::string_view(stream).substr(from, cut - from))) events.push_back(e);
    from = cut;
  }
  for (auto& e : parser.feed(std::string_view(stream).substr(from))) events.push_back(e);
  for (auto& e : parser.finish()) events.push_back(e);
  return events;
}

}  // namespace

TEST_CASE("SSE: data events, [DONE], comments and other fields", "[loadtest][sse]") {
  SseParser parser;
  const auto events = parser.feed(
      ": keep-alive comment\n"
      "event: message\nid: 7\ndata: {\"a\":1}\n\n"
      "data:{\"b\":2}\n\n"
      "retry: 100\n\n"
      "data: [DONE]\n\n");
  REQUIRE(events == std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "[DONE]"});
  REQUIRE(parser.finish().empty());
}

TEST_CASE("SSE: multi-line data is joined with newlines and only one leading space is stripped", "[loadtest][sse]") {
  SseParser parser;
  REQUIRE(parser.feed("data: one\ndata:  two\ndata\n\n") == std::vector<std::string>{"one\n two\n"});
}

TEST_CASE("SSE: CRLF, CR and LF line ends give the same events", "[loadtest][sse]") {
  for (const std::string eol : {"\n", "\r\n", "\r"}) {
    SseParser parser;
    const std::string stream = "data: x" + eol + eol + "data: y" + eol + eol;
    REQUIRE(parser.feed(stream) == std::vector<std::string>{"x", "y"});
  }
}

TEST_CASE("SSE: the same events whatever the chunk boundaries", "[loadtest][sse]") {
  const std::string stream =
      "data: {\"choices\":[{\"text\":\" caf\xc3\xa9\"}]}\r\n\r\n"
      ": ping\r\n"
      "data: second\r\ndata: line\r\n\r\n"
      "data: [DONE]\r\n\r\n";
  const std::vector<std::string> expected = {"{\"choices\":[{\"text\":\" caf\xc3\xa9\"}]}", "second\nline",
                                             "[DONE]"};
  REQUIRE(feed_in_pieces(stream, {}) == expected);
  // Every single cut, including between '\r' and '\n' and inside the UTF-8 'é'.
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    INFO("cut at " << cut);
    REQUIRE(feed_in_pieces(stream, {cut}) == expected);
  }
  // Byte by byte.
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < stream.size(); ++i) every_byte.push_back(i);
  REQUIRE(feed_in_pieces(stream, every_byte) == expected);
}

TEST_CASE("SSE: an event without its closing blank line is handed on at the end", "[loadtest][sse]") {
  SseParser parser;
  REQUIRE(parser.feed("data: a\n\ndata: b").size() == 1);
  REQUIRE(parser.finish() == std::vector<std::string>{"b"});
  REQUIRE(parser.finish().empty());
}

TEST_CASE("SSE: an empty data field still makes an event but a blank line alone does not", "[loadtest][sse]") {
  SseParser parser;
  REQUIRE(parser.feed("\n\ndata:\n\n") == std::vector<std::string>{""});
}
