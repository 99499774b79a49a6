#include "stream_chunk.hpp"

#include <fmt/format.h>

namespace sabre::loadtest {

namespace {

std::string shorten(std::string_view text, size_t limit = 200) {
  if (text.size() <= limit) return std::string(text);
  return std::string(text.substr(0, limit)) + "...";
}

// An error object's "message" when it has one, else its JSON text.
std::string error_text(simdjson::dom::element error) {
  std::string_view message;
  if (error.is_string()) return std::string(error.get_string().value_unsafe());
  if (!error["message"].get_string().get(message)) return std::string(message);
  return shorten(simdjson::to_string(error));
}

std::optional<int64_t> optional_int(simdjson::dom::element object, std::string_view key) {
  int64_t value = 0;
  if (object[key].get_int64().get(value)) return std::nullopt;
  return value;
}

}  // namespace

StreamChunk StreamChunkDecoder::decode(std::string_view payload) {
  StreamChunk chunk;
  if (payload == "[DONE]") {
    chunk.done = true;
    return chunk;
  }
  simdjson::dom::element root;
  if (parser_.parse(payload.data(), payload.size(), true).get(root) || !root.is_object()) {
    chunk.error = fmt::format("event data is not a JSON object: {}", shorten(payload));
    return chunk;
  }
  simdjson::dom::element error;
  if (!root["error"].get(error) && !error.is_null()) chunk.error = error_text(error);
  if (!root["error_info"].get(error) && !error.is_null()) chunk.error = error_text(error);

  simdjson::dom::array choices;
  if (!root["choices"].get_array().get(choices) && choices.size() > 0) {
    const simdjson::dom::element choice = choices.at(0).value_unsafe();
    std::string_view text;
    if (!choice["text"].get_string().get(text)) chunk.text.append(text);
    simdjson::dom::element delta;
    if (!choice["delta"].get(delta)) {
      if (!delta["reasoning_content"].get_string().get(text)) chunk.text.append(text);
      if (!delta["content"].get_string().get(text)) chunk.text.append(text);
    }
    std::string_view reason;
    if (!choice["finish_reason"].get_string().get(reason)) chunk.finish_reason = std::string(reason);
  }
  simdjson::dom::element usage;
  if (!root["usage"].get(usage) && usage.is_object()) {
    chunk.completion_tokens = optional_int(usage, "completion_tokens");
    chunk.prompt_tokens = optional_int(usage, "prompt_tokens");
  }
  return chunk;
}

}  // namespace sabre::loadtest
