// GenerationExchange without actors or sockets: engine messages in, HTTP bytes out.
#include <catch2/catch.hpp>

#include "io/http/generation_exchange.hpp"
#include "test_server.hpp"

using namespace sabre;
using namespace sabre::http;

namespace {

struct RecordingOutput : GenerationOutput {
  std::vector<std::string> calls;
  std::string bytes;
  int status = 0;
  void respond(HttpResponse response, const GenerationSummary&) override {
    calls.push_back("respond");
    status = response.status;
    bytes += response.body;
  }
  void stream_begin(std::string events) override {
    calls.push_back("begin");
    bytes += events;
  }
  void stream_write(std::string events) override {
    calls.push_back("write");
    bytes += events;
  }
  void stream_end(std::string events, const GenerationSummary&) override {
    calls.push_back("end");
    bytes += events;
  }
};

openai::CompletionPlan plan(const std::string& body) {
  auto parsed = openai::parse_completion_request(body, testing::TestServer::instance().context());
  REQUIRE(parsed.has_value());
  return *parsed;
}

TokenDelta delta(const std::string& id, int32_t index, const std::string& text) {
  TokenDelta d;
  d.request_id = id;
  d.index = index;
  d.token_ids = {65};
  d.text = text;
  return d;
}

// The reason a test names, as the engine's enum.
FinishReason reason_named(std::string_view name) {
  for (FinishReason r : {FinishReason::stop, FinishReason::length, FinishReason::abort, FinishReason::error}) {
    if (finish_reason_name(r) == name) return r;
  }
  throw std::invalid_argument("no finish reason is called " + std::string(name));
}

GenerationFinished finished(const std::string& id, int32_t index, const std::string& reason) {
  GenerationFinished f;
  f.request_id = id;
  f.index = index;
  f.finish_reason = reason_named(reason);
  f.usage.prompt_tokens = 3;
  f.usage.completion_tokens = 1;
  f.timings.time_to_first_token = 0.01;
  return f;
}

}  // namespace

TEST_CASE("exchange: a stream's head waits for the first message, then events, final chunk and [DONE]") {
  auto output = std::make_shared<RecordingOutput>();
  GenerationExchange exchange(plan(R"({"prompt":["a","b"],"stream":true})"), nullptr, output);
  REQUIRE(exchange.requests().size() == 2);
  const std::string a = exchange.requests()[0].request_id, b = exchange.requests()[1].request_id;
  CHECK(a != b);
  CHECK(output->calls.empty());
  CHECK(exchange.on_delta(delta(a, 0, "x")) == GenerationExchange::Step::running);
  CHECK(exchange.on_delta(delta("someone-else", 0, "y")) == GenerationExchange::Step::running);
  CHECK(exchange.on_finished(finished(a, 0, "length")) == GenerationExchange::Step::running);
  CHECK(exchange.unfinished_request_ids() == std::vector<std::string>{b});
  CHECK(exchange.on_finished(finished(b, 0, "stop")) == GenerationExchange::Step::finished);
  CHECK(output->calls == std::vector<std::string>{"begin", "write", "write", "end"});
  CHECK(output->bytes.find("\"text\":\"x\"") != std::string::npos);
  CHECK(output->bytes.find("\"text\":\"y\"") == std::string::npos);
  CHECK(output->bytes.ends_with("data: [DONE]\n\n"));
  CHECK(exchange.summary().prompt_tokens == 6);
  CHECK(exchange.summary().completion_tokens == 2);
}

TEST_CASE("exchange: a stream refused before its first event is a plain HTTP error (503 overloaded)") {
  auto output = std::make_shared<RecordingOutput>();
  GenerationExchange exchange(plan(R"({"prompt":["a","b"],"stream":"true"})"), nullptr, output);
  GenerationFinished refused = finished(exchange.requests()[0].request_id, 0, "error");
  refused.error_type = "overloaded";
  refused.error_message = "the waiting queue is full";
  CHECK(exchange.on_finished(refused) == GenerationExchange::Step::failed);
  CHECK(output->calls == std::vector<std::string>{"respond"});
  CHECK(output->status == 503);
  CHECK(exchange.unfinished_request_ids() == std::vector<std::string>{exchange.requests()[1].request_id});
}

TEST_CASE("exchange: non-streamed answers come once, 400 from the engine's message") {
  auto output = std::make_shared<RecordingOutput>();
  GenerationExchange exchange(plan(R"({"prompt":"a","n":2})"), nullptr, output);
  const std::string id = exchange.requests()[0].request_id;
  exchange.on_delta(delta(id, 1, "q"));
  CHECK(exchange.on_finished(finished(id, 1, "stop")) == GenerationExchange::Step::running);
  CHECK(exchange.on_finished(finished(id, 0, "length")) == GenerationExchange::Step::finished);
  CHECK(output->calls == std::vector<std::string>{"respond"});
  CHECK(output->status == 200);
  CHECK(output->bytes.find("\"object\":\"text_completion\"") != std::string::npos);

  auto rejected_output = std::make_shared<RecordingOutput>();
  GenerationExchange rejected(plan(R"({"prompt":"a"})"), nullptr, rejected_output);
  GenerationFinished invalid = finished(rejected.requests()[0].request_id, 0, "error");
  invalid.error_type = "invalid_request_error";
  invalid.error_message = "n is more than max_num_seqs";
  CHECK(rejected.on_finished(invalid) == GenerationExchange::Step::failed);
  CHECK(rejected_output->status == 400);
  CHECK(rejected_output->bytes.find("max_num_seqs") != std::string::npos);
}
