// The response side: exact streamed chunks (BladeLLM's completion shape, OpenAI's chat chunks), [DONE],
// include_usage, errors mid-stream, non-streamed bodies, logprobs, error objects.

#include <catch2/catch.hpp>

#include <simdjson.h>

#include "io/openai/chat_response.hpp"
#include "io/openai/completion_response.hpp"
#include "test_context.hpp"

using namespace sabre;
using namespace sabre::openai;
using sabre::openai::test::chat_plan;
using sabre::openai::test::completion_plan;
using sabre::openai::test::qwen3_context;

namespace {

TokenDelta delta(std::vector<int32_t> ids, std::string text, int32_t index = 0) {
  TokenDelta d;
  d.index = index;
  d.token_ids = std::move(ids);
  d.text = std::move(text);
  return d;
}

// The reason a test names, as the engine's enum.
FinishReason reason_named(std::string_view name) {
  for (FinishReason r : {FinishReason::stop, FinishReason::length, FinishReason::abort, FinishReason::error}) {
    if (finish_reason_name(r) == name) return r;
  }
  throw std::invalid_argument("no finish reason is called " + std::string(name));
}

GenerationFinished finished(std::string reason, int64_t prompt, int64_t completion, int32_t index = 0) {
  GenerationFinished f;
  f.index = index;
  f.finish_reason = reason_named(reason);
  f.usage.prompt_tokens = prompt;
  f.usage.completion_tokens = completion;
  return f;
}

GenerationFinished failure(std::string type, std::string message) {
  GenerationFinished f;
  f.finish_reason = FinishReason::error;
  f.error_type = std::move(type);
  f.error_message = std::move(message);
  return f;
}

// Every "data: " event except [DONE] must be one JSON object.
void check_events_parse(const std::string& stream) {
  simdjson::dom::parser parser;
  size_t pos = 0;
  while (pos < stream.size()) {
    REQUIRE(stream.compare(pos, 6, "data: ") == 0);
    const size_t end = stream.find("\n\n", pos);
    REQUIRE(end != std::string::npos);
    const std::string data = stream.substr(pos + 6, end - pos - 6);
    if (data != "[DONE]") {
      simdjson::dom::element e;
      INFO(data);
      REQUIRE_FALSE(parser.parse(data).get(e));
      CHECK(e.is_object());
    }
    pos = end + 2;
  }
}

}  // namespace

TEST_CASE("completion stream: BladeLLM's chunk text, usage in every chunk, then [DONE]", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan = completion_plan(R"({"prompt":[1,2,3,4,5,6,7],"stream":"true"})");
  CompletionStreamEncoder stream(plan, qwen3_context().tokenizer);
  CHECK(stream.begin().empty());
  CHECK(stream.on_delta(0, delta({576}, " The")) ==
        "data: {\"id\":\"cmpl-test\",\"choices\":[{\"finish_reason\":\"\",\"index\":0,\"logprobs\":null,\"text\":\" "
        "The\"}],\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"qwen3-test\",\"usage\":{\"prompt_"
        "tokens\":7,\"completion_tokens\":1,\"total_tokens\":8},\"error_info\":null}\n\n");
  // A delta whose text is held back (half a character, a possible stop string) sends nothing but counts.
  CHECK(stream.on_delta(0, delta({1000}, "")).empty());
  CHECK(stream.on_delta(0, delta({6722}, " capital \"x\"\n")) ==
        "data: {\"id\":\"cmpl-test\",\"choices\":[{\"finish_reason\":\"\",\"index\":0,\"logprobs\":null,\"text\":\" "
        "capital \\\"x\\\"\\n\"}],\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"qwen3-test\","
        "\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"total_tokens\":10},\"error_info\":null}\n\n");
  CHECK_FALSE(stream.complete());
  // The engine's count (the EOS token included) wins at the end.
  CHECK(stream.on_finished(0, finished("stop", 7, 4)) ==
        "data: {\"id\":\"cmpl-test\",\"choices\":[{\"finish_reason\":\"stop\",\"index\":0,\"logprobs\":null,\"text\":"
        "\"\"}],\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"qwen3-test\",\"usage\":{\"prompt_"
        "tokens\":7,\"completion_tokens\":4,\"total_tokens\":11},\"error_info\":null}\n\n");
  CHECK(stream.complete());
  CHECK_FALSE(stream.failed());
  CHECK(stream.end() == "data: [DONE]\n\n");
  // Late messages for a finished choice are dropped.
  CHECK(stream.on_delta(0, delta({1}, "late")).empty());
}

TEST_CASE("completion stream: several prompts and n, echo, include_usage", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan = completion_plan(
      R"({"prompt":["Hello","Bye"],"n":2,"echo":true,"stream":true,"stream_options":{"include_usage":true}})");
  const int64_t prompt_tokens = static_cast<int64_t>(plan.prompts[0].token_ids.size() + plan.prompts[1].token_ids.size());
  CompletionStreamEncoder stream(plan, qwen3_context().tokenizer);
  const std::string begin = stream.begin();
  check_events_parse(begin);
  // One echo chunk per choice, prompt-major.
  CHECK(begin.find("\"index\":0,\"logprobs\":null,\"text\":\"Hello\"") != std::string::npos);
  CHECK(begin.find("\"index\":1,\"logprobs\":null,\"text\":\"Hello\"") != std::string::npos);
  CHECK(begin.find("\"index\":2,\"logprobs\":null,\"text\":\"Bye\"") != std::string::npos);
  CHECK(begin.find("\"index\":3,\"logprobs\":null,\"text\":\"Bye\"") != std::string::npos);
  const std::string second_prompt_sample_1 = stream.on_delta(1, delta({5}, "!", 1));
  CHECK(second_prompt_sample_1.find("\"index\":3,") != std::string::npos);
  std::string all = begin + second_prompt_sample_1;
  for (size_t p = 0; p < 2; ++p) {
    for (int32_t s = 0; s < 2; ++s) all += stream.on_finished(p, finished("length", 1, 2, s));
  }
  CHECK(stream.complete());
  const std::string end = stream.end();
  CHECK(end == "data: {\"id\":\"cmpl-test\",\"choices\":[],\"object\":\"text_completion\",\"created\":1700000000,"
               "\"model\":\"qwen3-test\",\"usage\":{\"prompt_tokens\":" +
                   std::to_string(prompt_tokens) + ",\"completion_tokens\":8,\"total_tokens\":" +
                   std::to_string(prompt_tokens + 8) + "},\"error_info\":null}\n\ndata: [DONE]\n\n");
  check_events_parse(all + end);
}

TEST_CASE("completion stream: an engine error becomes an error event, then only [DONE]", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan = completion_plan(R"({"prompt":[1,2],"stream":true,"stream_options":{"include_usage":true}})");
  CompletionStreamEncoder stream(plan, qwen3_context().tokenizer);
  stream.on_delta(0, delta({3}, "a"));
  const std::string error = stream.on_finished(0, failure("internal_error", "rank 0 crashed at /secret/path"));
  CHECK(error == "data: {\"id\":\"cmpl-test\",\"choices\":[],\"object\":\"text_completion\",\"created\":1700000000,"
                 "\"model\":\"qwen3-test\",\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1,\"total_tokens\":3},"
                 "\"error_info\":{\"message\":\"internal server error\",\"type\":\"internal_error\",\"param\":null,"
                 "\"code\":null},\"error\":{\"message\":\"internal server error\",\"type\":\"internal_error\","
                 "\"param\":null,\"code\":null}}\n\n");
  CHECK(stream.failed());
  CHECK(stream.end() == "data: [DONE]\n\n");
}

TEST_CASE("completion stream: logprobs per chunk with text offsets", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan = completion_plan(R"({"prompt":[1],"stream":true,"logprobs":1,"return_tokens_as_token_ids":true})");
  CompletionStreamEncoder stream(plan, qwen3_context().tokenizer);
  TokenDelta d = delta({10, 11}, "ab");
  d.logprobs = {SampledToken{10, -0.5f, {TokenLogprob{12, -0.25f}}}, SampledToken{11, -1.0f, {TokenLogprob{11, -1.0f}}}};
  CHECK(stream.on_delta(0, d).find("\"logprobs\":{\"text_offset\":[0,11],\"token_logprobs\":[-0.5,-1],\"tokens\":["
                                   "\"token_id:10\",\"token_id:11\"],\"top_logprobs\":[{\"token_id:12\":-0.25,"
                                   "\"token_id:10\":-0.5},{\"token_id:11\":-1}]}") != std::string::npos);
  TokenDelta next = delta({13}, "");
  next.logprobs = {SampledToken{13, -std::numeric_limits<float>::infinity(), {}}};
  // Sent although its text is held back, since it carries a token's log-probability; -inf as -9999.0.
  CHECK(stream.on_delta(0, next).find("\"text_offset\":[22],\"token_logprobs\":[-9999.0]") != std::string::npos);
}

TEST_CASE("completion: the non-streamed body", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan = completion_plan(R"({"prompt":[[1,2],[3]],"n":2,"echo":true})");
  CompletionResponseBuilder builder(plan, qwen3_context().tokenizer);
  builder.add(0, delta({5}, " x", 0));
  builder.add(0, delta({6}, "y", 0));
  builder.add(1, delta({7}, "z", 1));
  builder.finish(0, finished("stop", 2, 3, 0));
  builder.finish(0, finished("length", 2, 1, 1));
  CHECK_FALSE(builder.complete());
  builder.finish(1, finished("length", 1, 1, 0));
  builder.finish(1, finished("stop", 1, 2, 1));
  REQUIRE(builder.complete());
  CHECK_FALSE(builder.error());
  // Prompts [1,2] and [3] decode to "\"#" and "$": the echo is JSON-escaped like any text.
  const std::string echo0 = plan.prompts[0].text;
  CHECK(echo0 == "\"#");
  CHECK(builder.body() ==
        "{\"id\":\"cmpl-test\",\"object\":\"text_completion\",\"created\":1700000000,\"model\":\"qwen3-test\","
        "\"choices\":[{\"index\":0,\"text\":\"\\\"# xy\",\"logprobs\":null,\"finish_reason\":\"stop\"},"
        "{\"index\":1,\"text\":\"\\\"#\",\"logprobs\":null,\"finish_reason\":\"length\"},"
        "{\"index\":2,\"text\":\"$\",\"logprobs\":null,\"finish_reason\":\"length\"},"
        "{\"index\":3,\"text\":\"$z\",\"logprobs\":null,\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":7,\"total_tokens\":10}}");
}

TEST_CASE("completion: a sample that fails makes the whole response its error", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const CompletionPlan plan = completion_plan(R"({"prompt":[1,2]})");
  CompletionResponseBuilder builder(plan, qwen3_context().tokenizer);
  builder.finish(0, failure("overloaded", "the waiting queue is full (1024 requests)"));
  REQUIRE(builder.complete());
  REQUIRE(builder.error());
  CHECK(builder.error()->status == 503);
  CHECK(builder.error()->type == "overloaded_error");
  CompletionResponseBuilder invalid(plan, qwen3_context().tokenizer);
  invalid.finish(0, failure("invalid_request_error", "prompt too long for the KV cache"));
  REQUIRE(invalid.error());
  CHECK(invalid.error()->status == 400);
  CHECK(invalid.error()->message == "prompt too long for the KV cache");
}

TEST_CASE("chat stream: role delta, content deltas, finish chunk, usage, [DONE]", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const ChatPlan plan = chat_plan(R"({"messages":[{"role":"user","content":"Hi"}],"stream":true,
      "stream_options":{"include_usage":true}})");
  const int64_t p = plan.prompt_tokens();
  auto usage = [&](int64_t c) {
    return "\"usage\":{\"prompt_tokens\":" + std::to_string(p) + ",\"completion_tokens\":" + std::to_string(c) +
           ",\"total_tokens\":" + std::to_string(p + c) + "}";
  };
  const std::string head = "data: {\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
                           "\"model\":\"qwen3-test\",";
  ChatStreamEncoder stream(plan, qwen3_context().tokenizer);
  // OpenAI's format: "usage":null in every chunk, the totals only in the final chunk; no error_info.
  CHECK(stream.begin() == head +
                              "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
                              "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n");
  CHECK(stream.on_delta(delta({9707}, "Hello")) ==
        head + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}],"
               "\"usage\":null}\n\n");
  CHECK(stream.on_finished(finished("stop", p, 2)) ==
        head + "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
               "\"usage\":null}\n\n");
  CHECK(stream.end() == head + "\"choices\":[]," + usage(2) + "}\n\ndata: [DONE]\n\n");
}

TEST_CASE("chat stream: without include_usage no chunk mentions usage", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const ChatPlan plan = chat_plan(R"({"messages":[{"role":"user","content":"Hi"}],"stream":true})");
  ChatStreamEncoder stream(plan, qwen3_context().tokenizer);
  std::string all = stream.begin() + stream.on_delta(delta({9707}, "Hello"));
  all += stream.on_finished(finished("length", plan.prompt_tokens(), 1)) + stream.end();
  CHECK(all.find("usage") == std::string::npos);
  CHECK(all.find("error_info") == std::string::npos);
  CHECK(all.ends_with("\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n"));
}

TEST_CASE("streams in the other format: chat as BladeLLM's, completions as OpenAI's", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  ModelContext context = qwen3_context();
  SECTION("chat with --stream-format bladellm: finish_reason \"\" until the end, usage and error_info always") {
    context.stream_format = StreamFormat::bladellm;
    const auto parsed = parse_chat_request(R"({"messages":[{"role":"user","content":"Hi"}],"stream":true})", context);
    REQUIRE(parsed);
    ChatStreamEncoder stream(*parsed, context.tokenizer);
    const std::string first = stream.on_delta(delta({9707}, "Hello"));
    CHECK(first.find("\"finish_reason\":\"\"}],\"usage\":{\"prompt_tokens\":") != std::string::npos);
    CHECK(first.ends_with(",\"error_info\":null}\n\n"));
    const std::string last = stream.on_finished(finished("stop", parsed->prompt_tokens(), 2));
    CHECK(last.find("\"finish_reason\":\"stop\"") != std::string::npos);
    CHECK(last.find("\"completion_tokens\":2") != std::string::npos);
    CHECK(stream.end() == "data: [DONE]\n\n");
  }
  SECTION("completions with --stream-format openai: finish_reason null until the end, no usage by default") {
    context.stream_format = StreamFormat::openai;
    const auto parsed = parse_completion_request(R"({"prompt":"Hi","stream":true})", context);
    REQUIRE(parsed);
    CompletionStreamEncoder stream(*parsed, context.tokenizer);
    const std::string first = stream.on_delta(0, delta({9707}, "Hello"));
    CHECK(first.find("{\"finish_reason\":null,") != std::string::npos);
    CHECK(first.find("usage") == std::string::npos);
    CHECK(first.find("error_info") == std::string::npos);
    const std::string last = stream.on_finished(0, finished("length", static_cast<int64_t>(parsed->requests[0].prompt_token_ids.size()), 1));
    CHECK(last.find("{\"finish_reason\":\"length\",") != std::string::npos);
    CHECK(stream.end() == "data: [DONE]\n\n");
  }
}

TEST_CASE("chat: the non-streamed body with logprobs", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const ChatPlan plan = chat_plan(R"({"messages":[{"role":"user","content":"Hi"}],"logprobs":true,"top_logprobs":1})");
  ChatResponseBuilder builder(plan, qwen3_context().tokenizer);
  TokenDelta d = delta({9707}, "Hello");
  d.logprobs = {SampledToken{9707, -0.125f, {TokenLogprob{9707, -0.125f}}}};
  builder.add(d);
  builder.finish(finished("length", plan.prompt_tokens(), 1));
  REQUIRE(builder.complete());
  const int64_t p = plan.prompt_tokens();
  CHECK(builder.body() ==
        "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion\",\"created\":1700000000,\"model\":\"qwen3-test\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello\"},\"logprobs\":{\"content\":"
        "[{\"token\":\"Hello\",\"logprob\":-0.125,\"bytes\":[72,101,108,108,111],\"top_logprobs\":[{\"token\":\"Hello\","
        "\"logprob\":-0.125,\"bytes\":[72,101,108,108,111]}]}]},\"finish_reason\":\"length\"}],"
        "\"usage\":{\"prompt_tokens\":" + std::to_string(p) + ",\"completion_tokens\":1,\"total_tokens\":" +
            std::to_string(p + 1) + "}}");
}

TEST_CASE("chat stream: n choices each get a role delta; an error ends the stream", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const ChatPlan plan = chat_plan(R"({"messages":[{"role":"user","content":"Hi"}],"stream":true,"n":3})");
  ChatStreamEncoder stream(plan, qwen3_context().tokenizer);
  const std::string begin = stream.begin();
  check_events_parse(begin);
  CHECK(begin.find("\"index\":2,\"delta\":{\"role\":\"assistant\"") != std::string::npos);
  const std::string error = stream.on_finished(failure("invalid_request_error", "too long"));
  check_events_parse(error);
  CHECK(error.find("\"error\":{\"message\":\"too long\",\"type\":\"invalid_request_error\"") != std::string::npos);
  CHECK(stream.failed());
  CHECK(stream.on_delta(delta({1}, "x", 1)).empty());
  CHECK(stream.end() == "data: [DONE]\n\n");
}

TEST_CASE("error objects have OpenAI's shape", "[openai]") {
  CHECK(error_body(ApiError::invalid_request("max_tokens", "'max_tokens' must be at least 1, got 0")) ==
        "{\"error\":{\"message\":\"'max_tokens' must be at least 1, got 0\",\"type\":\"invalid_request_error\","
        "\"param\":\"max_tokens\",\"code\":null}}");
  CHECK(error_body(ApiError::unauthorized("missing \"Authorization\" header")) ==
        "{\"error\":{\"message\":\"missing \\\"Authorization\\\" header\",\"type\":\"authentication_error\","
        "\"param\":null,\"code\":\"invalid_api_key\"}}");
  CHECK(ApiError::not_found("x").status == 404);
  CHECK(ApiError::method_not_allowed("x").status == 405);
  CHECK(ApiError::payload_too_large("x").status == 413);
  CHECK(ApiError::overloaded("x").status == 503);
  const ApiError internal = ApiError::internal();
  CHECK(internal.status == 500);
  CHECK(internal.message == "internal server error");
  GenerationFinished f;
  f.finish_reason = FinishReason::error;
  f.error_type = "internal_error";
  f.error_message = "std::bad_alloc in /src/secret.cpp";
  CHECK(error_from_finished(f).message == "internal server error");
}

TEST_CASE("sse framing", "[openai]") {
  CHECK(sse_event("{}") == "data: {}\n\n");
  CHECK(kSseDone == "data: [DONE]\n\n");
}
