#pragma once
// The one check of a generation request against the model's and the engine's limits, made where the
// request enters: by the HTTP codec (io/openai) for HTTP clients, which answers with a 400 naming the
// field, and by the request actor for clients of the engine API (HTTP requests pass it there again, as
// they must). What it accepts, nothing downstream refuses: the scheduler's checks of its own
// preconditions and the samplers' parameter checks remain as assertions, and a request that would make
// a rank throw (a token id past the vocabulary, a bad sampling parameter), which would stop the engine,
// cannot reach one. CAF-free.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "actors/generation.hpp"
#include "model/structured/guided_compiler.hpp"

namespace sabre {

// What a request is checked against. kv_blocks 0: the KV pool's size is not known (not checked).
struct RequestLimits {
  int64_t vocab_size = 0;
  int64_t max_model_len = 0;
  int64_t max_num_seqs = INT64_MAX;  // the samples of one request (n) run together
  int64_t kv_block_size = 16;
  int64_t kv_blocks = 0;
  // Compiles guided-decoding constraints (a bad one is refused here); null: the model has no tokenizer,
  // and constrained requests are refused.
  std::shared_ptr<structured::GuidedCompiler> guided;
};

// The most alternatives a scored prompt token reports (GenerationRequest::prompt_logprobs), as many as
// OpenAI allows top_logprobs.
inline constexpr int32_t kMaxPromptLogprobs = 20;

// What is wrong, and with which field.
struct RequestProblem {
  std::string param;
  std::string message;
};

// How the messages call the prompt and the length limit: "prompt" / "max_tokens" for completions and the
// engine API, "messages" / "max_completion_tokens" for chat.
struct RequestFieldNames {
  std::string prompt = "prompt";
  std::string max_tokens = "max_tokens";
  std::string guided = "guided_decoding";  // the field the constraint came in (response_format, guided_json...)
};

// `prompt`: the request's prompt ids (tokenized when it came as text). Checks n, max_tokens, the sampling
// parameters (ranges, token ids of logit_bias and stop_token_ids, min_tokens against max_tokens), prompt_logprobs, the
// guided-decoding constraint (it must compile), stop strings, the prompt's ids against the vocabulary, prompt + max_tokens against max_model_len, and the KV
// blocks all n samples need at once against the pool.
std::optional<RequestProblem> check_generation_request(const GenerationRequest& request,
                                                       std::span<const int32_t> prompt, const RequestLimits& limits,
                                                       const RequestFieldNames& names = {});

// The KV blocks n samples of a `prompt_len`-token prompt need at once when each has generated max_tokens
// (the last sampled token is never fed back; the prompt's full blocks are shared by the samples, the
// rest is each sample's own; with max_tokens 1 nothing is appended). The scheduler and the check above
// use this one rule.
int64_t kv_blocks_needed(int64_t prompt_len, int64_t max_tokens, int64_t n, int64_t block_size);

}  // namespace sabre
