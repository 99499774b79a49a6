#pragma once
// The model context the codec tests share: the real Qwen3 tokenizer and chat template from the shared
// folder, loaded once.

#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "io/openai/chat_request.hpp"
#include "io/openai/completion_request.hpp"
#include "io/openai/model_context.hpp"

namespace sabre::openai::test {

inline std::filesystem::path qwen3_dir() {
  return std::filesystem::path(SABRE_SHARED_DIR) / "models" / "tokenizers" / "qwen3";
}

inline const ModelContext& qwen3_context() {
  static const ModelContext context = [] {
    ModelContext c;
    c.served_model_name = "qwen3-test";
    c.model_root = "/models/qwen3";
    c.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_file(qwen3_dir() / "tokenizer.json"));
    c.chat_template = std::make_shared<const chat::ChatTemplate>(
        chat::ChatTemplate::from_tokenizer_config(qwen3_dir() / "tokenizer_config.json"));
    c.max_model_len = 256;
    c.guided = std::make_shared<structured::GuidedCompiler>(c.tokenizer, static_cast<int64_t>(c.tokenizer->vocab_size()),
                                                           std::vector<int32_t>{151645});
    c.created = 1700000000;
    return c;
  }();
  return context;
}

// A parsed request with a fixed id and creation time, so responses can be compared byte for byte.
inline CompletionPlan completion_plan(const std::string& body) {
  auto plan = parse_completion_request(body, qwen3_context());
  REQUIRE(plan);
  plan->id = "cmpl-test";
  plan->created = 1700000000;
  return *plan;
}

inline ChatPlan chat_plan(const std::string& body) {
  auto plan = parse_chat_request(body, qwen3_context());
  REQUIRE(plan);
  plan->id = "chatcmpl-test";
  plan->created = 1700000000;
  return *plan;
}

// The 400 a completion body must get.
inline ApiError completion_error(const std::string& body) {
  auto plan = parse_completion_request(body, qwen3_context());
  if (plan) FAIL("expected a 400 for " << body);
  return plan.error();
}

// The error names `param` in its param field and in its message.
inline void check_completion_rejected(const std::string& body, const std::string& param) {
  INFO(body);
  const ApiError e = completion_error(body);
  CHECK(e.status == 400);
  CHECK(e.type == "invalid_request_error");
  CHECK(e.param == param);
  CHECK(e.message.find(param) != std::string::npos);
}

// Skips the test when the shared tokenizers are missing.
#define SABRE_REQUIRE_QWEN3()                                                             \
  do {                                                                                    \
    if (!std::filesystem::exists(::sabre::openai::test::qwen3_dir() / "tokenizer.json")) { \
      WARN("SKIPPED: no shared qwen3 tokenizer");                                         \
      return;                                                                             \
    }                                                                                     \
  } while (0)

}  // namespace sabre::openai::test
