#pragma once
// How responses write the scores of a prompt's tokens (GenerationRequest::prompt_logprobs; the engine
// scores every prompt token after the first, TokenDelta::prompt_logprobs):
// - vLLM's `prompt_logprobs` (both endpoints): one entry per prompt token, null for the first, else a map
//   from token id to {"logprob", "rank", "decoded_token"} holding the prompt's token and the top
//   alternatives;
// - the legacy completions `logprobs` object with echo: the prompt's tokens come first, the first with
//   null in token_logprobs and top_logprobs (nothing scores it).

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/openai/response_common.hpp"

namespace sabre::openai {

// Appends vLLM's prompt_logprobs list for `prompt` with at most `alternatives` top tokens per entry (the
// engine may have scored more, for echo's logprobs); `scored[i]` is prompt token i + 1's (entries past
// the scores there are are null, as for a choice that failed before its prompt was scored).
void append_prompt_logprobs(std::string& out, std::span<const int32_t> prompt, const std::vector<SampledToken>& scored,
                            size_t alternatives, const TokenSpeller& speller);

// One token of the legacy logprobs object. scores null: a token nothing scored (the prompt's first).
struct LegacyToken {
  int32_t token = 0;
  const SampledToken* scores = nullptr;
};

// The legacy tokens of an echoed prompt: its first token unscored, then each with its scores.
std::vector<LegacyToken> echoed_prompt_tokens(std::span<const int32_t> prompt, const std::vector<SampledToken>& scored);
// The legacy tokens of generated ones.
std::vector<LegacyToken> generated_tokens(const std::vector<SampledToken>& sampled);

// OpenAI's legacy logprobs object:
//   {"text_offset":[..],"token_logprobs":[..],"tokens":[..],"top_logprobs":[{"tok":lp,..},..]}
// Each top_logprobs map holds the `alternatives` (the request's N) best tokens plus the token itself (as
// vLLM does); a spelling shared by two ids keeps the likelier. `offset` advances by each token's characters.
std::string legacy_logprobs(std::span<const LegacyToken> tokens, size_t alternatives, const TokenSpeller& speller,
                            int64_t& offset);

}  // namespace sabre::openai
