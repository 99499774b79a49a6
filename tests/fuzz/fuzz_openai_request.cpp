// The protocol codec on arbitrary request bodies: /v1/completions, /v1/chat/completions, /tokenize and
// /detokenize bodies (the first byte picks which) must become a plan or an ApiError with a 4xx status
// and a message; an exception escaping, a crash or a sanitizer report is a finding. The model context
// is a real one: Qwen3's tokenizer where it is at hand (fuzz_support.hpp) and Qwen3's chat template from
// tests/fixtures/chat/qwen3.
#include <cstdint>
#include <memory>
#include <string_view>

#include "fuzz_support.hpp"
#include "io/openai/chat_request.hpp"
#include "io/openai/completion_request.hpp"
#include "io/openai/utility_endpoints.hpp"

namespace {

const sabre::openai::ModelContext& context() {
  static const auto loaded = [] {
    auto c = std::make_unique<sabre::openai::ModelContext>();
    c->served_model_name = "fuzz-model";
    c->model_root = "/models/fuzz";
    c->max_model_len = 256;
    c->tokenizer = std::make_shared<const sabre::Tokenizer>(
        sabre::Tokenizer::from_json(sabre::fuzz::fuzz_tokenizer_json(), "fuzz tokenizer"));
    c->chat_template = std::make_shared<const sabre::chat::ChatTemplate>(sabre::chat::ChatTemplate::from_tokenizer_config(
        sabre::fuzz::source_dir() / "tests/fixtures/chat/qwen3/tokenizer_config.json"));
    // Constraints (response_format, guided_*, forced tool calls) are compiled as the server does, with an
    // eighth of its mask budget: under ASan a regex of nested `.*` took 11 s of CPU within the whole
    // budget, past the 10 s timeout (the release server answered it on SmolLM2 within 1.6 s, under load).
    // Refusing sooner is still a 400.
    c->guided = std::make_shared<sabre::structured::GuidedCompiler>(
        c->tokenizer, static_cast<int64_t>(c->tokenizer->vocab_size()), std::vector<int32_t>{0},
        sabre::structured::kMaxMaskWork / 8);
    c->tool_call_format = sabre::openai::ToolCallFormat::hermes;
    return c;
  }();
  return *loaded;
}

template <class T>
void check(const sabre::openai::Expected<T, sabre::openai::ApiError>& result) {
  if (result) return;
  const sabre::openai::ApiError& e = result.error();
  if (e.status < 400 || e.status > 499 || e.message.empty()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: check(sabre::openai::parse_completion_request(body, context())); break;
    case 1: check(sabre::openai::parse_chat_request(body, context())); break;
    case 2: check(sabre::openai::tokenize_response(body, context())); break;
    default: check(sabre::openai::detokenize_response(body, context())); break;
  }
  return 0;
}
