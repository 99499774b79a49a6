#pragma once
// Where one generation's HTTP answer goes: the connection that asked for it. The engine side (a CAF
// actor) calls these from its own thread; the connection's implementation posts the bytes to its
// strand and writes them in order.

#include <cstdint>
#include <string>

#include "io/http/http_response.hpp"

namespace sabre::http {

// What the access log reports about a generation.
struct GenerationSummary {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  double time_to_first_token = -1;  // seconds; < 0: no token came
  int64_t speculative_proposed = 0;  // speculative decoding: tokens proposed, and of them accepted
  int64_t speculative_accepted = 0;
};

class GenerationOutput {
 public:
  virtual ~GenerationOutput() = default;
  // A whole response (non-streamed answers, and streams that fail before their first event).
  virtual void respond(HttpResponse response, const GenerationSummary& summary) = 0;
  // A stream's head plus its first events; then more events; then the last ones and the body's end.
  virtual void stream_begin(std::string events) = 0;
  virtual void stream_write(std::string events) = 0;
  virtual void stream_end(std::string events, const GenerationSummary& summary) = 0;
};

}  // namespace sabre::http
