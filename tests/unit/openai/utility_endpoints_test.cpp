// /tokenize, /detokenize and /v1/models bodies.

#include <catch2/catch.hpp>

#include "io/openai/utility_endpoints.hpp"
#include "test_context.hpp"

using namespace sabre;
using namespace sabre::openai;
using sabre::openai::test::qwen3_context;

namespace {

std::string ids_json(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  return out + "]";
}

}  // namespace

TEST_CASE("tokenize: a prompt, with and without special tokens", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const auto& tok = *qwen3_context().tokenizer;
  const auto ids = tok.encode("Hello world", true);
  auto body = tokenize_response(R"({"prompt":"Hello world"})", qwen3_context());
  REQUIRE(body);
  CHECK(*body == "{\"count\":" + std::to_string(ids.size()) + ",\"max_model_len\":256,\"tokens\":" + ids_json(ids) +
                     ",\"token_strs\":null}");
  auto strs = tokenize_response(R"({"prompt":"Hello world","add_special_tokens":false,"return_token_strs":true})",
                                qwen3_context());
  REQUIRE(strs);
  CHECK(strs->find("\"token_strs\":[\"Hello\",\"Ġworld\"]") != std::string::npos);
}

TEST_CASE("tokenize: messages go through the chat template", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const auto& tok = *qwen3_context().tokenizer;
  const auto ids = tok.encode("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", false);
  auto body = tokenize_response(R"({"messages":[{"role":"user","content":"Hi"}]})", qwen3_context());
  REQUIRE(body);
  CHECK(body->find("\"tokens\":" + ids_json(ids)) != std::string::npos);
}

TEST_CASE("tokenize and detokenize: 400s", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  CHECK(tokenize_response(R"({})", qwen3_context()).error().param == "prompt");
  CHECK(tokenize_response(R"({"prompt":"a","messages":[]})", qwen3_context()).error().param == "prompt");
  CHECK(tokenize_response(R"({"prompt":5})", qwen3_context()).error().param == "prompt");
  CHECK(tokenize_response(R"({"messages":[{"role":"x"}]})", qwen3_context()).error().param == "messages[0].role");
  CHECK(tokenize_response("{\"prompt\":\"\xff\"}", qwen3_context()).error().status == 400);
  CHECK(detokenize_response(R"({})", qwen3_context()).error().param == "tokens");
  CHECK(detokenize_response(R"({"tokens":"abc"})", qwen3_context()).error().param == "tokens");
  CHECK(detokenize_response(R"({"tokens":[1,-5]})", qwen3_context()).error().param == "tokens[1]");
  CHECK(detokenize_response(R"({"tokens":[1,999999999]})", qwen3_context()).error().param == "tokens[1]");
  CHECK(detokenize_response("nonsense", qwen3_context()).error().status == 400);
}

TEST_CASE("detokenize: ids back to text, special tokens kept", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const auto& tok = *qwen3_context().tokenizer;
  const auto ids = tok.encode("<|im_start|>Hello \"world\"", false);
  auto body = detokenize_response("{\"tokens\":" + ids_json(ids) + "}", qwen3_context());
  REQUIRE(body);
  CHECK(*body == "{\"prompt\":\"<|im_start|>Hello \\\"world\\\"\"}");
}

TEST_CASE("/v1/models lists the served model", "[openai]") {
  ModelContext context;
  context.served_model_name = "smol";
  context.model_root = "models/smol.gguf";
  context.max_model_len = 8192;
  context.created = 123;
  CHECK(models_response(context) ==
        "{\"object\":\"list\",\"data\":[{\"id\":\"smol\",\"object\":\"model\",\"created\":123,\"owned_by\":\"sabre\","
        "\"root\":\"models/smol.gguf\",\"parent\":null,\"max_model_len\":8192}]}");
}
