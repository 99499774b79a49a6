#pragma once
// One SSE event of an OpenAI-style stream, reduced to what the benchmark measures. Completions carry
// text in choices[0].text, chat in choices[0].delta.content (or delta.reasoning_content); usage may come
// in every chunk (BladeLLM, Sabre), only in a final chunk with no choices (OpenAI/vLLM with
// stream_options.include_usage) or never (then the client counts content chunks instead). Errors arrive
// as a top-level "error" object (OpenAI, vLLM, llama-server) or a non-null "error_info" (BladeLLM).

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sabre::loadtest {

struct StreamChunk {
  bool done = false;                          // the "[DONE]" sentinel
  std::string text;                           // generated text in this chunk (may be empty)
  std::string finish_reason;                  // "" while generating
  std::optional<int64_t> completion_tokens;   // from usage
  std::optional<int64_t> prompt_tokens;       // from usage
  std::optional<std::string> error;           // the server reported a failure
};

class StreamChunkDecoder {
 public:
  // Never throws: a payload that is not JSON comes back as an error naming it.
  StreamChunk decode(std::string_view payload);

 private:
  simdjson::dom::parser parser_;
};

}  // namespace sabre::loadtest
