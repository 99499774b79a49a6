#pragma once
// The public messages of the Sabre engine as plain structs, without CAF: what a client sends to the engine
// facade (GenerationRequest) and what its sink receives back (TokenDelta ... GenerationFinished), and the
// engine-wide figures (EngineInfo). The HTTP codec (io/openai) builds and reads these without knowing
// about actors; actors/messages.hpp adds the atoms and the CAF glue (inspect overloads, registration).

#include <cstdint>
#include <string>
#include <vector>

#include "model/finish_reason.hpp"
#include "config/sampling_params.hpp"
#include "kernels/sampling.hpp"

namespace sabre {

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
  // Prompt logprobs: -1 none; k >= 0: the first delta of each sample carries the log-probability of every
  // prompt token after the first given the ones before it, its rank, and the k likeliest alternatives.
  // The prompt is then computed in full, whatever the prefix cache holds.
  int32_t prompt_logprobs = -1;
};

// Tokens generated since the previous delta of the same sample, with their text. The text never ends
// in a broken UTF-8 character nor in what may become a stop string (both are held back).
struct TokenDelta {
  std::string request_id;
  int32_t index = 0;  // which of the request's n samples
  std::vector<int32_t> token_ids;
  std::string text;
  std::vector<SampledToken> logprobs;  // one per token when the request asked for logprobs
  // With GenerationRequest::prompt_logprobs, in the sample's first delta (which may hold no tokens):
  // one per prompt token from the second on, prompt_logprobs[i] for prompt token i + 1.
  std::vector<SampledToken> prompt_logprobs;
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_prompt_tokens = 0;  // prompt tokens served from the prefix cache
  // Speculative decoding: tokens proposed for this sample and of them accepted (0 without speculation).
  int64_t speculative_proposed = 0;
  int64_t speculative_accepted = 0;
};

// Seconds, measured by the request actor from the moment the engine accepted the request.
struct RequestTimings {
  double queue_seconds = 0;          // until the prompt's first chunk was scheduled
  double time_to_first_token = 0;
  double end_to_end_seconds = 0;
};

// The last message of one sample. finish_reason: stop (eos, stop token or stop string), length
// (max_tokens or the context), abort (the client aborted or went away), error (error_type says which:
// "invalid_request_error" for a request that can never run, "overloaded" when the waiting queue is
// full, "internal_error"; error_message says why). The encoders spell it (finish_reason_name).
struct GenerationFinished {
  std::string request_id;
  int32_t index = 0;
  FinishReason finish_reason = FinishReason::length;
  std::string stop_reason;  // the stop string that matched, when one did
  Usage usage;
  RequestTimings timings;
  std::string error_type;
  std::string error_message;
  std::string error_param;  // the request field the error is about, when there is one
};

// Engine-wide figures for /metrics and health checks.
struct EngineInfo {
  std::string model_name;
  int64_t max_model_len = 0;
  int64_t vocab_size = 0;
  int64_t max_num_seqs = 0;          // sequences running at once at most (the samples of one request too)
  int64_t kv_block_size = 0;         // tokens per KV block
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
  int64_t speculative_proposed = 0;  // speculative decoding: tokens proposed, and of them accepted
  int64_t speculative_accepted = 0;
};

}  // namespace sabre
