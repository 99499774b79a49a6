#include "request_body.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "config/text/json_writer.hpp"

namespace sabre::loadtest {

std::string make_request_body(const BenchPrompt& prompt, const RequestBodyOptions& options) {
  std::string body = "{";
  if (options.model) {
    body += "\"model\":";
    append_json_string(body, *options.model);
    body += ',';
  }
  if (options.api == ApiKind::chat) {
    if (prompt.text.empty()) throw std::invalid_argument("a chat request needs a text prompt, not token ids");
    body += "\"messages\":[{\"role\":\"user\",\"content\":";
    append_json_string(body, prompt.text);
    body += "}]";
  } else if (!prompt.prompt_ids.empty()) {
    body += "\"prompt\":[";
    for (size_t i = 0; i < prompt.prompt_ids.size(); ++i) {
      if (i > 0) body += ',';
      body += std::to_string(prompt.prompt_ids[i]);
    }
    body += ']';
  } else {
    body += "\"prompt\":";
    append_json_string(body, prompt.text);
  }
  body += fmt::format(",\"max_tokens\":{},\"temperature\":0.0,\"stream\":true,"
                      "\"stream_options\":{{\"include_usage\":true}}",
                      prompt.output_tokens);
  if (options.ignore_eos) body += ",\"ignore_eos\":true";
  body += '}';
  return body;
}

}  // namespace sabre::loadtest
