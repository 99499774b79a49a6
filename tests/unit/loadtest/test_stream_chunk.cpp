#include <catch2/catch.hpp>

#include "stream_chunk.hpp"

using namespace sabre::loadtest;

TEST_CASE("stream chunks: completions text with BladeLLM usage in every chunk", "[loadtest][chunk]") {
  StreamChunkDecoder decoder;
  const StreamChunk c = decoder.decode(
      R"({"id":"x","choices":[{"finish_reason":"","index":0,"logprobs":null,"text":" The"}],)"
      R"("object":"text_completion","usage":{"prompt_tokens":7,"completion_tokens":1,"total_tokens":8},"error_info":null})");
  REQUIRE_FALSE(c.done);
  REQUIRE(c.text == " The");
  REQUIRE(c.finish_reason.empty());
  REQUIRE(c.completion_tokens == 1);
  REQUIRE(c.prompt_tokens == 7);
  REQUIRE_FALSE(c.error);
}

TEST_CASE("stream chunks: chat deltas, a final usage-only chunk, [DONE]", "[loadtest][chunk]") {
  StreamChunkDecoder decoder;
  const StreamChunk role = decoder.decode(R"({"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]})");
  REQUIRE(role.text.empty());
  REQUIRE(role.finish_reason.empty());
  REQUIRE_FALSE(role.completion_tokens);
  REQUIRE(decoder.decode(R"({"choices":[{"delta":{"content":"Hi"}}]})").text == "Hi");
  REQUIRE(decoder.decode(R"({"choices":[{"delta":{"reasoning_content":"hmm"}}]})").text == "hmm");
  const StreamChunk last = decoder.decode(R"({"choices":[{"delta":{},"finish_reason":"length"}],"usage":null})");
  REQUIRE(last.finish_reason == "length");
  REQUIRE_FALSE(last.completion_tokens);
  const StreamChunk usage = decoder.decode(R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":9}})");
  REQUIRE(usage.completion_tokens == 9);
  REQUIRE(usage.text.empty());
  REQUIRE(decoder.decode("[DONE]").done);
}

TEST_CASE("stream chunks: errors from OpenAI-style and BladeLLM-style servers, and junk", "[loadtest][chunk]") {
  StreamChunkDecoder decoder;
  REQUIRE(decoder.decode(R"({"error":{"message":"out of memory","type":"server_error"}})").error == "out of memory");
  REQUIRE(decoder.decode(R"({"choices":[],"error_info":"engine died"})").error == "engine died");
  REQUIRE(decoder.decode(R"({"error":{"code":500}})").error == R"({"code":500})");
  const StreamChunk junk = decoder.decode("not json at all");
  REQUIRE(junk.error);
  REQUIRE_THAT(*junk.error, Catch::Contains("not a JSON object") && Catch::Contains("not json at all"));
  REQUIRE(decoder.decode("[1,2]").error);
}
