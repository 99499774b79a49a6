#pragma once
// Why a sequence stopped generating. One definition from the scheduler's decision to the HTTP encoders
// (generate(), the engine's messages, the OpenAI codec and the metrics), spelled only at the edge.

#include <string_view>

namespace sabre {

enum class FinishReason {
  stop,    // a stop token id (eos unless the request ignores it) or a stop string
  length,  // max_tokens generated
  abort,   // cancelled before finishing (client gone, abort message); never produced by generate()
  error,   // the engine could not run it (GenerationFinished::error_type and error_message say why)
};

// The OpenAI / vLLM spelling: "stop", "length", "abort", "error".
constexpr std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::abort: return "abort";
    case FinishReason::error: return "error";
  }
  return "unknown";
}

}  // namespace sabre
