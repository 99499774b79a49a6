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
// max_tokens is the endpoint's (their names and defaults differ).
void read_sampling_fields(const RequestFields& fields, const ModelContext& context, GenerationRequest& request);

struct StreamFields {
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a last chunk with the usage and no choices
};
StreamFields read_stream_fields(const RequestFields& fields);

// vLLM's prompt_logprobs (0..max_logprobs; -1 when absent or null): scores of the prompt's tokens,
// answered in the response's prompt_logprobs. Not with stream (as vLLM: the scores are one whole list).
int32_t read_prompt_logprobs(const RequestFields& fields, const StreamFields& stream, const ModelContext& context);

// The finished request (its prompt ids set) against the model's and the engine's limits: the same check
// the engine makes at its edge (check_generation_request, with vLLM's messages), as a 400 naming the
// field. `names` says what this endpoint calls the prompt and the length limit.
void check_request(const GenerationRequest& request, const ModelContext& context, const RequestFieldNames& names);

// A fresh response id: prefix + 32 random hex digits ("cmpl-3f2a...").
std::string make_response_id(std::string_view prefix);

}  // namespace sabre::openai
