#pragma once
// The CAF side of the engine's public messages (the structs themselves are plain, in
// actors/generation.hpp): the atoms, an `inspect` overload per message so CAF can print and serialise
// it, and add_engine_message_types(), which registers them with an actor_system_config. The
// engine-internal messages live in actors/internal_messages.hpp.

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

#include <string>

#include "actors/generation.hpp"

namespace sabre {

// ---- atoms (at most 10 characters) ----
using generate_atom = caf::atom_constant<caf::atom("generate")>;
using abort_atom = caf::atom_constant<caf::atom("abort")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
using submit_atom = caf::atom_constant<caf::atom("submit")>;
using execute_atom = caf::atom_constant<caf::atom("execute")>;
using info_atom = caf::atom_constant<caf::atom("info")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using launch_atom = caf::atom_constant<caf::atom("launch")>;
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, EngineInfo& x) {
  return f(caf::meta::type_name("EngineInfo"), x.model_name, x.max_model_len, x.vocab_size, x.max_num_seqs,
           x.kv_block_size, x.num_running,
           x.num_waiting, x.kv_blocks_total, x.kv_blocks_used, x.num_preemptions, x.prefix_cache_queried_blocks,
           x.prefix_cache_hit_blocks, x.num_steps, x.num_steps_planned_ahead, x.batched_tokens, x.step_seconds, x.model_seconds,
           x.speculative_proposed, x.speculative_accepted);
}

// ---- inspect overloads (CAF 0.17 style) ----

// CAF prints an enum through to_string (found by lookup in its namespace); it serialises the number.
inline std::string to_string(FinishReason reason) { return std::string(finish_reason_name(reason)); }
inline std::string to_string(GuidedKind kind) { return std::string(guided_kind_name(kind)); }

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, GuidedDecoding& x) {
  return f(caf::meta::type_name("GuidedDecoding"), x.kind, x.text);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SamplingParams& x) {
  return f(caf::meta::type_name("SamplingParams"), x.temperature, x.top_p, x.top_k, x.seed, x.min_p,
           x.repetition_penalty, x.presence_penalty, x.frequency_penalty, x.logit_bias, x.top_logprobs, x.min_tokens,
           x.stop_token_ids, x.guided);
}


template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TokenLogprob& x) {
  return f(caf::meta::type_name("TokenLogprob"), x.token, x.logprob);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, SampledToken& x) {
  return f(caf::meta::type_name("SampledToken"), x.token, x.logprob, x.top_logprobs, x.rank);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, GenerationRequest& x) {
  return f(caf::meta::type_name("GenerationRequest"), x.request_id, x.prompt_token_ids, x.prompt, x.sampling,
           x.has_seed, x.max_tokens, x.n, x.stop, x.include_stop_str_in_output, x.ignore_eos, x.skip_special_tokens,
           x.logprobs, x.prompt_logprobs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, TokenDelta& x) {
  return f(caf::meta::type_name("TokenDelta"), x.request_id, x.index, x.token_ids, x.text, x.logprobs,
           x.prompt_logprobs);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, Usage& x) {
  return f(caf::meta::type_name("Usage"), x.prompt_tokens, x.completion_tokens, x.cached_prompt_tokens,
           x.speculative_proposed, x.speculative_accepted);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, RequestTimings& x) {
  return f(caf::meta::type_name("RequestTimings"), x.queue_seconds, x.time_to_first_token, x.end_to_end_seconds);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, GenerationFinished& x) {
  return f(caf::meta::type_name("GenerationFinished"), x.request_id, x.index, x.finish_reason, x.stop_reason, x.usage,
           x.timings, x.error_type, x.error_message, x.error_param);
}

// Registers the public message types (names "sabre.GenerationRequest", ...) with a CAF configuration,
// before the actor_system is built from it.
void add_engine_message_types(caf::actor_system_config& config);

}  // namespace sabre
