#pragma once
// POST /v1/completions: the request body -> one engine GenerationRequest per prompt.
//
// `prompt` may be a string, a list of strings, a list of token ids or a list of such lists. Strings are
// tokenized here (with the tokenizer's special tokens, e.g. BOS, unless add_special_tokens is false), so
// every GenerationRequest carries prompt_token_ids and the prompt's length is known before generation:
// too long for max_model_len is a 400 now, and every streamed chunk can report usage. Choices are
// numbered prompt-major: choice = prompt_index * n + sample index.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/generation.hpp"
#include "io/openai/api_error.hpp"
#include "io/openai/expected.hpp"
#include "io/openai/model_context.hpp"

namespace sabre::openai {

struct CompletionPrompt {
  std::string text;                // as sent, or the ids decoded (what echo prints)
  std::vector<int32_t> token_ids;  // what the engine gets
};

struct CompletionPlan {
  std::string id;       // "cmpl-..."; tests may overwrite it (and `created`) for fixed output
  int64_t created = 0;  // Unix seconds
  std::string model;    // the served model's name
  std::vector<CompletionPrompt> prompts;
  std::vector<GenerationRequest> requests;  // one per prompt, same order; each asks for n samples
  int64_t n = 1;
  bool stream = false;
  bool include_usage = false;               // stream_options.include_usage
  StreamFormat stream_format = StreamFormat::bladellm;
  bool echo = false;
  // max_tokens 0 with echo (OpenAI's and vLLM's way to score a prompt): the engine generates one token,
  // which the responses leave out (no text, no logprobs, 0 completion tokens, finish_reason length).
  bool echo_only = false;
  std::optional<int64_t> logprobs;          // OpenAI's top-N (0..max_logprobs); nullopt: no logprobs
  int32_t prompt_logprobs = -1;             // vLLM's prompt_logprobs top-N; -1: not asked for
  bool return_tokens_as_token_ids = false;  // vLLM: logprob tokens spelled "token_id:123"

  size_t num_choices() const { return prompts.size() * static_cast<size_t>(n); }
  size_t choice_index(size_t prompt_index, int32_t sample_index) const {
    return prompt_index * static_cast<size_t>(n) + static_cast<size_t>(sample_index);
  }
};

Expected<CompletionPlan, ApiError> parse_completion_request(std::string_view body, const ModelContext& context);

}  // namespace sabre::openai
