#pragma once
// What the scheduler keeps per sequence: every token it has (prompt, then generated ones), where its
// KV computation stands, and why it would finish. CAF-free; the request actor keeps the rest
// (sampler, stop strings, streaming).

#include <cstdint>
#include <vector>

#include "actors/block_manager.hpp"

namespace sabre {

enum class FinishReason {
  stop,    // a stop token id (eos included unless the request ignores it)
  length,  // max_tokens generated
};

struct SequenceRequest {
  SequenceId id = 0;
  std::vector<int32_t> prompt;
  int64_t max_tokens = 16;
  // Token ids that end generation; the caller puts the eos ids here unless the request ignores eos.
  std::vector<int32_t> stop_token_ids;
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
  int64_t num_preemptions = 0;

  int64_t num_generated() const { return static_cast<int64_t>(tokens.size()) - prompt_len; }
};

}  // namespace sabre
