#include "json_output.hpp"

#include <fmt/format.h>

#include <cmath>

namespace sabre::generate_cli {
namespace {

// JSON has no inf/nan; a number that is not finite is written as null.
std::string json_number(double value) { return std::isfinite(value) ? fmt::format("{}", value) : "null"; }

}  // namespace

std::string result_json(const std::string* text, const GenerationResult& result, uint64_t seed) {
  std::string logprobs;
  for (size_t i = 0; i < result.logprobs.size(); ++i) {
    if (i > 0) logprobs += ", ";
    logprobs += json_number(result.logprobs[i]);
  }
  return fmt::format(
      "{{\"text\": {}, \"token_ids\": [{}], \"logprobs\": [{}], \"prompt_tokens\": {}, \"completion_tokens\": {}, "
      "\"finish_reason\": \"{}\", \"tokens_per_second\": {}, \"prompt_tokens_per_second\": {}, \"seed\": {}}}",
      text ? json_string(*text) : "null", fmt::join(result.tokens, ", "), logprobs, result.prompt_tokens,
      result.tokens.size(), finish_reason_name(result.finish_reason), json_number(result.decode_tokens_per_second()),
      json_number(result.prompt_tokens_per_second()), seed);
}

}  // namespace sabre::generate_cli
