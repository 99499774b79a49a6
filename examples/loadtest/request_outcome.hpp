#pragma once
// What the client measured for one streamed request; the report turns many of these into figures.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sabre::loadtest {

struct RequestOutcome {
  bool success = false;
  std::string error;                        // why it failed ("" on success)
  double start_s = 0;                       // when it was sent, seconds after the benchmark began
  double ttft_s = 0;                        // to the first chunk with text (0 when none came)
  double e2e_s = 0;                         // to the end of the response
  std::vector<double> itl_s;                // gaps between successive chunks with text
  int64_t content_chunks = 0;               // chunks with text
  std::optional<int64_t> usage_completion_tokens;  // the last usage the server sent
  std::optional<int64_t> usage_prompt_tokens;

  // The server's count when it sent one, else one token per chunk with text.
  int64_t output_tokens() const { return usage_completion_tokens.value_or(content_chunks); }
};

}  // namespace sabre::loadtest
