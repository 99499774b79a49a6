#pragma once
// The JSON body of one streamed request. Completions get the prompt as text or as token ids; chat gets
// it as one user message. Every request asks for a stream with usage (stream_options.include_usage, so
// OpenAI-style servers send a final usage chunk) and temperature 0, and sets max_tokens to the
// prompt's output length; with ignore_eos the server must generate exactly that many tokens.

#include <optional>
#include <string>

#include "dataset.hpp"

namespace sabre::loadtest {

enum class ApiKind { completions, chat };

struct RequestBodyOptions {
  ApiKind api = ApiKind::completions;
  std::optional<std::string> model;  // absent: no "model" field (servers with one model accept that)
  bool ignore_eos = false;
};

std::string make_request_body(const BenchPrompt& prompt, const RequestBodyOptions& options);

}  // namespace sabre::loadtest
