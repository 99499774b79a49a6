// The Jinja engine on arbitrary templates: parsing and rendering a fixed conversation must either give
// text or throw TemplateError / std::runtime_error; crashes, sanitizer reports, other exceptions, runaway
// time or memory are findings. Templates come from model files and --chat-template, so a hostile one
// must fail cleanly.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "model/chat/chat_template.hpp"
#include "model/chat/error.hpp"
#include "model/chat/limits.hpp"

namespace {

const sabre::chat::ChatRequest& conversation() {
  static const sabre::chat::ChatRequest request = sabre::chat::ChatRequest::from_json(
      R"({"messages": [{"role": "system", "content": "Be brief."},
                       {"role": "user", "content": "What is the weather in Paris?"},
                       {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function",
                        "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
                       {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                       {"role": "user", "content": [{"type": "text", "text": "Thanks! 東京は?"}]}],
          "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
          "add_generation_prompt": true, "enable_thinking": false})",
      "fuzz conversation");
  return request;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string source(reinterpret_cast<const char*>(data), size);
  sabre::chat::SpecialTokens tokens;
  tokens.bos_token = "<s>";
  tokens.eos_token = "</s>";
  try {
    const auto chat = sabre::chat::ChatTemplate::from_string(std::move(source), tokens, "fuzz template");
    // An eighth of the server's work budget: a render that spends all of it is bounded but took 40 s under
    // ASan (printing a long list at 100 nested macro calls), past libFuzzer's timeout.
    (void)chat.render(conversation(), sabre::chat::kMaxRenderWork / 8);
  } catch (const sabre::chat::TemplateError&) {
  } catch (const std::runtime_error&) {
  }
  return 0;
}
