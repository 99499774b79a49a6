#pragma once
// The request fields completions and chat share: the model name check, the sampling parameters, stop
// conditions, n and the stream flags. Each reader throws ApiException (400) naming the field.

#include <cstdint>

#include "actors/generation.hpp"
#include "io/openai/model_context.hpp"
#include "io/openai/request_fields.hpp"

namespace sabre::openai {

// `model`, when given, must be the served model's name (400 naming it otherwise, code model_not_found).
void check_model_field(const RequestFields& fields, const ModelContext& context);

// temperature, top_p, top_k, min_p, seed, presence/frequency/repetition penalties, logit_bias,
// min_tokens, stop, stop_token_ids, ignore_eos, include_stop_str_in_output, skip_special_tokens and n.
// max_tokens is the endpoint's (their names and defaults differ); call check_min_tokens after it.
void read_sampling_fields(const RequestFields& fields, const ModelContext& context, GenerationRequest& request);
void check_min_tokens(const GenerationRequest& request);

struct StreamFields {
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a last chunk with the usage and no choices
};
StreamFields read_stream_fields(const RequestFields& fields);

// "prompt_tokens + max_tokens <= max_model_len", with vLLM's message. `prompt_param` is "prompt" or
// "messages"; `max_tokens_param` names the field that set the completion's length.
void check_context_length(int64_t prompt_tokens, int64_t max_tokens, const ModelContext& context,
                          const std::string& prompt_param, const std::string& max_tokens_param);

// A fresh response id: prefix + 32 random hex digits ("cmpl-3f2a...").
std::string make_response_id(std::string_view prefix);

}  // namespace sabre::openai
