#pragma once
// The public messages of the Sabre engine, declared once: what a client actor sends to the engine
// facade (GenerationRequest) and what its sink receives back (TokenDelta ... GenerationFinished).
// Each has an `inspect` overload so CAF can print and serialise it; add_engine_message_types()
// registers them with an actor_system_config. The engine-internal messages live in
// actors/internal_messages.hpp.

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "model/sampler.hpp"

namespace sabre {

// ---- atoms (at most 10 characters) ----
using generate_atom = caf::atom_constant<caf::atom("generate")>;
using abort_atom = caf::atom_constant<caf::atom("abort")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
using submit_atom = caf::atom_constant<caf::atom("submit")>;
using execute_atom = caf::atom_constant<caf::atom("execute")>;
using info_atom = caf::atom_constant<caf::atom("info")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;

// One generation: a prompt (token ids, or text the engine tokenizes) and how to sample from it.
struct GenerationRequest {
  std::string request_id;                 // echoed in every reply; the engine assigns one when empty
  std::vector<int32_t> prompt_token_ids;  // used when not empty
  std::string prompt;                     // otherwise encoded with the tokenizer's special tokens (BOS)
  SamplingParams sampling;                // temperature, top_p, ..., stop_token_ids, top_logprobs
  bool has_seed = false;                  // false: the engine draws sampling.seed at random
  int64_t max_tokens = 16;
  int64_t n = 1;                          // independent samples sharing the prompt's KV blocks
  std::vector<std::string> stop;          // stop strings: generation ends before them
  bool include_stop_str_in_output = false;
  bool ignore_eos = false;
  bool skip_special_tokens = true;        // in the streamed text
  bool logprobs = false;                  // report each token's log-probability (and top_logprobs)
};

// Tokens generated since the previous delta of the same sample, with their text. The text never ends
// in a broken UTF-8 character nor in what may become a stop string (both are held back).
struct TokenDelta {
  std::string request_id;
  int32_t index = 0;  // which of the request's n samples
  std::vector<int32_t> token_ids;
  std::string text;
  std::vector<SampledToken> logprobs;  // one per token when the request asked for logprobs
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
};

// Seconds, measured by the request actor from the moment the engine accepted the request.
struct RequestTimings {
  double queue_seconds = 0;          // until the prompt's first chunk was scheduled
  double time_to_first_token = 0;
  double end_to_end_seconds = 0;
};

// The last message of one sample. finish_reason: "stop" (eos, stop token or stop string), "length"
// (max_tokens or the context), "abort" (the client aborted or went away), "error" (error_type says
// which: "invalid_request_error" for a request that can never run, "overloaded" when the waiting queue
// is full, "internal_error"; error_message says why).
struct GenerationFinished {
  std::string request_id;
  int32_t index = 0;
  std::string finish_reason;
  std::string stop_reason;  // the stop string that matched, when one did
  Usage usage;
  RequestTimings timings;
  std::string error_type;
  std::string error_message;
};

// Engine-wide figures for /metrics and health checks.
struct EngineInfo {
  std::string model_name;
  int64_t max_model_len = 0;
  int64_t vocab_size = 0;
  int64_t num_running = 0;
  int64_t num_waiting = 0;
  int64_t kv_blocks_total = 0;
  int64_t kv_blocks_used = 0;
  int64_t num_preemptions = 0;
  int64_t prefix_cache_queried_blocks = 0;
  int64_t prefix_cache_hit_blocks = 0;
  int64_t num_steps = 0;
  int64_t num_steps_planned_ahead = 0;  // of which planned while the step before was running (async)
  int64_t batched_tokens = 0;        // tokens computed over all steps
  double step_seconds = 0;           // rank-side wall time of all steps (from send, or the previous step's end, to finish)
  double model_seconds = 0;          // of which the ranks spent in the forward pass
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, EngineInfo& x) {
  return f(caf::meta::type_name("EngineInfo"), x.model_name, x.max_model_len, x.vocab_size, x.num_running,
           x.num_waiting, x.kv_blocks_total, x.kv_blocks_used, x.num_preemptions, x.prefix_cache_queried_blocks,
           x.prefix_cache_hit_blocks, x.num_steps, x.num_steps_planned_ahead, x.batched_tokens, x.step_seconds, x.model_seconds);
}

// ---- inspect overloads (CAF 0.17 style) ----
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SamplingParams& x) {
  return f(caf::meta::type_name("SamplingParams"), x.temperature, x.top_p, x.top_k, x.seed, x.min_p,
           x.repetition_penalty, x.presence_penalty, x.frequency_penalty, x.logit_bias, x.top_logprobs, x.min_tokens,
           x.stop_token_ids);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TokenLogprob& x) {
  return f(caf::meta::type_name("TokenLogprob"), x.token, x.logprob);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SampledToken& x) {
  return f(caf::meta::type_name("SampledToken"), x.token, x.logprob, x.top_logprobs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, GenerationRequest& x) {
  return f(caf::meta::type_name("GenerationRequest"), x.request_id, x.prompt_token_ids, x.prompt, x.sampling,
           x.has_seed, x.max_tokens, x.n, x.stop, x.include_stop_str_in_output, x.ignore_eos, x.skip_special_tokens,
           x.logprobs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TokenDelta& x) {
  return f(caf::meta::type_name("TokenDelta"), x.request_id, x.index, x.token_ids, x.text, x.logprobs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Usage& x) {
  return f(caf::meta::type_name("Usage"), x.prompt_tokens, x.completion_tokens, x.cached_prompt_tokens);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RequestTimings& x) {
  return f(caf::meta::type_name("RequestTimings"), x.queue_seconds, x.time_to_first_token, x.end_to_end_seconds);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, GenerationFinished& x) {
  return f(caf::meta::type_name("GenerationFinished"), x.request_id, x.index, x.finish_reason, x.stop_reason, x.usage,
           x.timings, x.error_type, x.error_message);
}

// Registers the public message types (names "sabre.GenerationRequest", ...) with a CAF configuration,
// before the actor_system is built from it.
void add_engine_message_types(caf::actor_system_config& config);

}  // namespace sabre
