// Prompt logprobs on the HTTP side: which requests ask the engine to score the prompt (echo with
// logprobs, vLLM's prompt_logprobs), what is refused by name, and how the responses write the scores:
// the legacy logprobs object with the echoed prompt first (its first token null), and vLLM's
// prompt_logprobs list on completions' choices and at the top of a chat completion.

#include <catch2/catch.hpp>

#include <simdjson.h>

#include "io/openai/chat_response.hpp"
#include "io/openai/completion_response.hpp"
#include "test_context.hpp"

using namespace sabre;
using namespace sabre::openai;
using sabre::openai::test::check_completion_rejected;
using sabre::openai::test::completion_plan;
using sabre::openai::test::qwen3_context;

namespace {

// The engine's first delta of a sample: its tokens and the scores of prompt tokens 1.. .
TokenDelta first_delta(std::vector<SampledToken> prompt_scores, int32_t index = 0) {
  TokenDelta d;
  d.index = index;
  d.token_ids = {9};
  d.text = "*";
  d.logprobs = {SampledToken{9, -0.75f, {}}};
  d.prompt_logprobs = std::move(prompt_scores);
  return d;
}

GenerationFinished finished_length(int32_t index = 0) {
  GenerationFinished f;
  f.index = index;
  f.finish_reason = FinishReason::length;
  f.usage.completion_tokens = 1;
  return f;
}

simdjson::dom::element parse(simdjson::dom::parser& parser, const std::string& json) {
  simdjson::dom::element e;
  INFO(json);
  REQUIRE_FALSE(parser.parse(json).get(e));
  return e;
}

}  // namespace

TEST_CASE("completion request: echo with logprobs and prompt_logprobs ask the engine to score the prompt", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  CHECK(completion_plan(R"({"prompt":[1,2,3]})").requests[0].prompt_logprobs == -1);
  CHECK(completion_plan(R"({"prompt":[1,2,3],"echo":true})").requests[0].prompt_logprobs == -1);
  CHECK(completion_plan(R"({"prompt":[1,2,3],"logprobs":2})").requests[0].prompt_logprobs == -1);
  CHECK(completion_plan(R"({"prompt":[1,2,3],"echo":true,"logprobs":2})").requests[0].prompt_logprobs == 2);
  CHECK(completion_plan(R"({"prompt":[1,2,3],"prompt_logprobs":0})").requests[0].prompt_logprobs == 0);
  CHECK(completion_plan(R"({"prompt":[1,2,3],"prompt_logprobs":null})").requests[0].prompt_logprobs == -1);
  // Both: the wider of the two.
  CHECK(completion_plan(R"({"prompt":[1,2,3],"echo":true,"logprobs":1,"prompt_logprobs":4})").requests[0].prompt_logprobs == 4);
  check_completion_rejected(R"({"prompt":[1,2,3],"prompt_logprobs":21})", "prompt_logprobs");
  check_completion_rejected(R"({"prompt":[1,2,3],"prompt_logprobs":-1})", "prompt_logprobs");
  check_completion_rejected(R"({"prompt":[1,2,3],"prompt_logprobs":"2"})", "prompt_logprobs");
  check_completion_rejected(R"({"prompt":[1,2,3],"prompt_logprobs":1,"stream":true})", "prompt_logprobs");
  // Echo with logprobs streams (the prompt's scores ride on the echo chunk).
  CHECK(completion_plan(R"({"prompt":[1,2,3],"echo":true,"logprobs":1,"stream":true})").requests[0].prompt_logprobs == 1);
}

TEST_CASE("completion: echo with logprobs puts the prompt's tokens first, the first unscored", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan = completion_plan(R"({"prompt":[1,2,3],"echo":true,"logprobs":1,"return_tokens_as_token_ids":true})");
  CompletionResponseBuilder builder(plan, qwen3_context().tokenizer);
  builder.add(0, first_delta({SampledToken{2, -1.5f, {TokenLogprob{7, -0.5f}}, 3},
                              SampledToken{3, -0.25f, {TokenLogprob{3, -0.25f}}, 1}}));
  builder.finish(0, finished_length());
  REQUIRE(builder.complete());
  CHECK(builder.body().find(
            "\"logprobs\":{\"text_offset\":[0,10,20,30],\"token_logprobs\":[null,-1.5,-0.25,-0.75],\"tokens\":["
            "\"token_id:1\",\"token_id:2\",\"token_id:3\",\"token_id:9\"],\"top_logprobs\":[null,{\"token_id:7\":-0.5,"
            "\"token_id:2\":-1.5},{\"token_id:3\":-0.25},{\"token_id:9\":-0.75}]}") != std::string::npos);
  CHECK(builder.body().find("prompt_logprobs") == std::string::npos);  // not asked for
}

TEST_CASE("completion: vLLM's prompt_logprobs on each choice", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan = completion_plan(R"({"prompt":[1,2,3],"prompt_logprobs":1,"n":2,"return_tokens_as_token_ids":true})");
  CompletionResponseBuilder builder(plan, qwen3_context().tokenizer);
  const std::vector<SampledToken> scores = {SampledToken{2, -1.5f, {TokenLogprob{7, -0.5f}}, 3},
                                            SampledToken{3, -0.25f, {TokenLogprob{3, -0.25f}}, 1}};
  builder.add(0, first_delta(scores, 0));
  builder.add(0, first_delta(scores, 1));
  builder.finish(0, finished_length(0));
  builder.finish(0, finished_length(1));
  REQUIRE(builder.complete());
  const std::string expected =
      "\"prompt_logprobs\":[null,{\"2\":{\"logprob\":-1.5,\"rank\":3,\"decoded_token\":\"token_id:2\"},"
      "\"7\":{\"logprob\":-0.5,\"rank\":1,\"decoded_token\":\"token_id:7\"}},"
      "{\"3\":{\"logprob\":-0.25,\"rank\":1,\"decoded_token\":\"token_id:3\"}}]";
  const std::string body = builder.body();
  const size_t first = body.find(expected);
  CHECK(first != std::string::npos);
  CHECK(body.find(expected, first + 1) != std::string::npos);  // both choices
  CHECK(body.find("\"logprobs\":null") != std::string::npos);  // the generated tokens' were not asked for
  simdjson::dom::parser parser;
  const auto doc = parse(parser, body);
  CHECK(doc["choices"].get_array().size() == 2);
}

TEST_CASE("completion stream: with echo and logprobs the echo chunk waits for the prompt's scores", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan =
      completion_plan(R"({"prompt":[1,2],"echo":true,"logprobs":0,"stream":true,"return_tokens_as_token_ids":true})");
  CompletionStreamEncoder stream(plan, qwen3_context().tokenizer);
  CHECK(stream.begin().empty());
  const std::string events = stream.on_delta(0, first_delta({SampledToken{2, -2.0f, {}, 5}}));
  // The echo chunk, then the delta's chunk, whose text offsets go on after the prompt's.
  const size_t echo = events.find("\"logprobs\":{\"text_offset\":[0,10],\"token_logprobs\":[null,-2],\"tokens\":"
                                  "[\"token_id:1\",\"token_id:2\"],\"top_logprobs\":[null,{\"token_id:2\":-2}]},"
                                  "\"text\":\"\\\"#\"");
  CHECK(echo != std::string::npos);
  const size_t generated = events.find("\"logprobs\":{\"text_offset\":[20],\"token_logprobs\":[-0.75]");
  CHECK(generated != std::string::npos);
  CHECK(echo < generated);
  // Only once.
  CHECK(stream.on_delta(0, first_delta({SampledToken{2, -2.0f, {}, 5}})).find("\"text\":\"\\\"#\"") == std::string::npos);
}

TEST_CASE("chat: vLLM's prompt_logprobs at the top of the response, refused with stream", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const std::string body = R"({"messages":[{"role":"user","content":"Hi"}],"prompt_logprobs":0})";
  auto plan = parse_chat_request(body, qwen3_context());
  REQUIRE(plan);
  CHECK(plan->request.prompt_logprobs == 0);
  const size_t prompt_tokens = plan->request.prompt_token_ids.size();
  REQUIRE(prompt_tokens > 2);
  ChatResponseBuilder builder(*plan, qwen3_context().tokenizer);
  std::vector<SampledToken> scores;
  for (size_t i = 1; i < prompt_tokens; ++i) {
    scores.push_back(SampledToken{plan->request.prompt_token_ids[i], -1.0f, {}, 2});
  }
  builder.add(first_delta(scores));
  builder.finish(finished_length());
  REQUIRE(builder.complete());
  simdjson::dom::parser parser;
  const auto doc = parse(parser, builder.body());
  simdjson::dom::array list;
  REQUIRE_FALSE(doc["prompt_logprobs"].get_array().get(list));
  CHECK(list.size() == prompt_tokens);
  CHECK(list.at(0).is_null());
  const std::string second_id = std::to_string(plan->request.prompt_token_ids[1]);
  CHECK(double(list.at(1)[second_id]["logprob"]) == -1.0);
  CHECK(int64_t(list.at(1)[second_id]["rank"]) == 2);

  const auto streamed = parse_chat_request(
      R"({"messages":[{"role":"user","content":"Hi"}],"prompt_logprobs":0,"stream":true})", qwen3_context());
  REQUIRE_FALSE(streamed);
  CHECK(streamed.error().param == "prompt_logprobs");
}

TEST_CASE("completion: echo's logprobs and prompt_logprobs each show their own number of alternatives", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan = completion_plan(
      R"({"prompt":[1,2],"echo":true,"logprobs":1,"prompt_logprobs":0,"return_tokens_as_token_ids":true})");
  REQUIRE(plan.requests[0].prompt_logprobs == 1);
  CompletionResponseBuilder builder(plan, qwen3_context().tokenizer);
  // The engine scored the wider of the two: one alternative.
  builder.add(0, first_delta({SampledToken{2, -1.5f, {TokenLogprob{7, -0.5f}}, 3}}));
  builder.finish(0, finished_length());
  const std::string body = builder.body();
  CHECK(body.find("\"top_logprobs\":[null,{\"token_id:7\":-0.5,\"token_id:2\":-1.5},") != std::string::npos);
  CHECK(body.find("\"prompt_logprobs\":[null,{\"2\":{\"logprob\":-1.5,\"rank\":3,\"decoded_token\":\"token_id:2\"}}]") !=
        std::string::npos);

  const CompletionPlan wider = completion_plan(
      R"({"prompt":[1,2],"echo":true,"logprobs":0,"prompt_logprobs":1,"return_tokens_as_token_ids":true})");
  CompletionResponseBuilder second(wider, qwen3_context().tokenizer);
  second.add(0, first_delta({SampledToken{2, -1.5f, {TokenLogprob{7, -0.5f}}, 3}}));
  second.finish(0, finished_length());
  CHECK(second.body().find("\"top_logprobs\":[null,{\"token_id:2\":-1.5},") != std::string::npos);
  CHECK(second.body().find("\"7\":{\"logprob\":-0.5,\"rank\":1") != std::string::npos);
}

TEST_CASE("completion: max_tokens 0 with echo answers the prompt alone, scored", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  check_completion_rejected(R"({"prompt":[1,2],"max_tokens":0})", "max_tokens");
  const std::string body = R"({"prompt":[1,2],"echo":true,"max_tokens":0,"logprobs":0,"return_tokens_as_token_ids":true})";
  const CompletionPlan plan = completion_plan(body);
  CHECK(plan.echo_only);
  CHECK(plan.requests[0].max_tokens == 1);  // the engine samples one token, which is left out
  CHECK(plan.requests[0].prompt_logprobs == 0);
  GenerationFinished stopped = finished_length();
  stopped.finish_reason = FinishReason::stop;  // the generated token was EOS: still not reported

  CompletionResponseBuilder builder(plan, qwen3_context().tokenizer);
  builder.add(0, first_delta({SampledToken{2, -2.0f, {}, 5}}));
  builder.finish(0, stopped);
  REQUIRE(builder.complete());
  CHECK(builder.body() ==
        "{\"id\":\"cmpl-test\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"qwen3-test\","
        "\"choices\":[{\"index\":0,\"text\":\"\\\"#\",\"logprobs\":{\"text_offset\":[0,10],\"token_logprobs\":"
        "[null,-2],\"tokens\":[\"token_id:1\",\"token_id:2\"],\"top_logprobs\":[null,{\"token_id:2\":-2}]},"
        "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":0,\"total_tokens\":2}}");

  const CompletionPlan streamed = completion_plan(
      R"({"prompt":[1,2],"echo":true,"max_tokens":0,"logprobs":0,"stream":true,"return_tokens_as_token_ids":true})");
  CompletionStreamEncoder stream(streamed, qwen3_context().tokenizer);
  CHECK(stream.begin().empty());
  const std::string events = stream.on_delta(0, first_delta({SampledToken{2, -2.0f, {}, 5}}));
  CHECK(events.find("\"text\":\"\\\"#\"") != std::string::npos);
  CHECK(events.find("\"text\":\"*\"") == std::string::npos);  // the generated token's text is left out
  CHECK(events.find("-0.75") == std::string::npos);
  const std::string last = stream.on_finished(0, stopped);
  CHECK(last.find("\"finish_reason\":\"length\"") != std::string::npos);
  CHECK(last.find("\"completion_tokens\":0") != std::string::npos);
}
