// The output-constraint fields become the request's GuidedDecoding: OpenAI's response_format, vLLM's
// guided_* and structured_outputs, on both endpoints.

#include <catch2/catch.hpp>

#include "io/openai/chat_request.hpp"
#include "io/openai/completion_request.hpp"
#include "test_context.hpp"

using namespace sabre;
using namespace sabre::openai;
using sabre::openai::test::qwen3_context;

namespace {

GuidedDecoding completion_guided(const std::string& fields) {
  auto plan = parse_completion_request(R"({"prompt":"x",)" + fields + "}", qwen3_context());
  if (!plan) FAIL("unexpected error: " << plan.error().message);
  return plan->requests.front().sampling.guided;
}

GuidedDecoding chat_guided(const std::string& fields) {
  auto plan = parse_chat_request(R"({"messages":[{"role":"user","content":"x"}],)" + fields + "}", qwen3_context());
  if (!plan) FAIL("unexpected error: " << plan.error().message);
  return plan->request.sampling.guided;
}

}  // namespace

TEST_CASE("output constraints: each field becomes its kind of constraint", "[openai][guided]") {
  SABRE_REQUIRE_QWEN3();
  CHECK(completion_guided(R"("response_format":{"type":"text"})").kind == GuidedKind::none);
  CHECK(completion_guided(R"("response_format":{"type":"json_object"})").kind == GuidedKind::json_object);
  const auto schema = chat_guided(
      R"("response_format":{"type":"json_schema","json_schema":{"name":"person","schema":{"type":"object"}}})");
  CHECK(schema.kind == GuidedKind::json_schema);
  CHECK(schema.text == R"({"type":"object"})");
  CHECK(chat_guided(R"("response_format":{"type":"json_schema","json_schema":{"name":"any"}})").text == "{}");
  CHECK(completion_guided(R"("guided_json":{"type":"integer"})").text == R"({"type":"integer"})");
  CHECK(completion_guided(R"("guided_json":"{\"type\": \"integer\"}")").text == R"({"type": "integer"})");
  const auto regex = chat_guided(R"("guided_regex":"[a-z]+")");
  CHECK(regex.kind == GuidedKind::regex);
  CHECK(regex.text == "[a-z]+");
  const auto choice = completion_guided(R"("guided_choice":["yes","no"])");
  CHECK(choice.kind == GuidedKind::choice);
  CHECK(choice.text == R"(["yes","no"])");
  CHECK(chat_guided(R"("guided_grammar":"root ::= \"a\"+")").kind == GuidedKind::grammar);
  CHECK(chat_guided(R"("structured_outputs":{"regex":"\\d+"})").kind == GuidedKind::regex);
  CHECK(chat_guided(R"("structured_outputs":{"json_object":true})").kind == GuidedKind::json_object);
}

TEST_CASE("output constraints: a constraint that does not compile is a 400 naming its field", "[openai][guided]") {
  SABRE_REQUIRE_QWEN3();
  const auto error = [](const std::string& fields) {
    auto plan = parse_chat_request(R"({"messages":[{"role":"user","content":"x"}],)" + fields + "}", qwen3_context());
    REQUIRE_FALSE(plan);
    return plan.error();
  };
  const ApiError keyword = error(R"("guided_json":{"type":"string","format":"hostname"})");
  CHECK(keyword.status == 400);
  CHECK(keyword.param == "guided_json");
  CHECK(keyword.message.find("hostname") != std::string::npos);
  const ApiError grammar = error(R"("structured_outputs":{"grammar":"root ::= root \"a\""})");
  CHECK(grammar.param == "structured_outputs.grammar");
  CHECK(grammar.message.find("left-recursive") != std::string::npos);
  CHECK(error(R"("guided_whitespace_pattern":" ")").param == "guided_whitespace_pattern");
}
