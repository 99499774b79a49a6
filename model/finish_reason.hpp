#pragma once
// Why a sequence stopped generating. One definition shared by generate() (model/) and the engine
// (actors/), so both name the same type and the server reports the same words.

#include <string_view>

namespace sabre {

enum class FinishReason {
  stop,    // a stop token id (eos unless the request ignores it) or a stop string
  length,  // max_tokens generated
  abort,   // cancelled before finishing (client gone, abort message); never produced by generate()
};

// The OpenAI / vLLM spelling: "stop", "length", "abort".
constexpr std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::abort: return "abort";
  }
  return "unknown";
}

}  // namespace sabre
