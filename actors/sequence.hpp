#pragma once
// What the scheduler keeps per sequence: every token it has (prompt, then generated ones), where its
// KV computation stands, and why it would finish. CAF-free; the request actor keeps the rest
// (sampler, stop strings, streaming).

#include <cstdint>
#include <optional>
#include <vector>

#include "actors/block_manager.hpp"
#include "model/finish_reason.hpp"

namespace sabre {

struct SequenceRequest {
  SequenceId id = 0;
  std::vector<int32_t> prompt;
  int64_t max_tokens = 16;
  // Token ids that end generation; the caller puts the eos ids here unless the request ignores eos.
  std::vector<int32_t> stop_token_ids;
  // n > 1 sampling: the ids of samples 2..n (empty for n = 1). Only `id` is queued and prefilled; the
  // chunk that completes its prompt samples one token for each of id, extra_sample_ids[0], ... (see
  // ScheduledChunk::sample_ids), and then every extra sample is forked from `id`, sharing the prompt's
  // KV blocks. From there on each one is an ordinary sequence with the same max_tokens and stop ids.
  std::vector<SequenceId> extra_sample_ids;
  // Prompt logprobs: -1 none; k >= 0: every prompt token after the first is scored (its log-probability
  // given the tokens before it, and the k likeliest alternatives). The prompt is then computed in full
  // (no prefix-cache hits) in chunks of at most SchedulerConfig::max_prompt_logprob_rows tokens.
  int32_t prompt_logprobs = -1;
};

struct SchedulerSequence {
  SequenceId id = 0;
  int64_t arrival = 0;            // admission order in add(); preemption keeps it, so FCFS survives
  std::vector<int32_t> tokens;    // prompt followed by generated tokens
  int64_t prompt_len = 0;         // the original prompt's length
  int64_t max_tokens = 0;
  std::vector<int32_t> stop_token_ids;
  // Tokens whose KV is written. After a preemption this drops to 0 (or the prefix-cache hit) and the
  // generated tokens are recomputed as if they were prompt.
  int64_t num_computed = 0;
  // Tokens whose KV is computed or being computed by a step in flight (== num_computed between steps).
  int64_t num_scheduled = 0;
  // Tokens that steps in flight will sample for this sequence, not yet in `tokens` (0 or 1).
  int64_t num_pending = 0;
  int64_t num_preemptions = 0;
  bool ever_scheduled = false;    // admitted at least once (or forked): its queue time is over
  // n > 1, on the sequence that prefills for its siblings: samples still waiting for its prompt to be
  // computed (forked from it when that happens, then this is empty for good).
  std::vector<SequenceId> pending_samples;
  // n > 1, on a sample not forked yet: the sequence whose prefill it waits for. Such a sample is in
  // neither the waiting queue nor the running set and holds no blocks.
  std::optional<SequenceId> fork_parent;
  int32_t prompt_logprobs = -1;   // SequenceRequest::prompt_logprobs

  int64_t num_generated() const { return static_cast<int64_t>(tokens.size()) - prompt_len; }
  // Whether its prefill chunks score the prompt: asked for, and the prompt not yet completed (a sequence
  // preempted after it sampled has reported them; one preempted mid-prompt scores it again, and the
  // request keeps the positions it already has).
  bool scores_prompt() const { return prompt_logprobs >= 0 && num_generated() == 0; }
};

}  // namespace sabre
