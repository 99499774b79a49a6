#pragma once
// The scheduler's answer for one step, as a plain value: which sequences run, which of their tokens,
// where those sit, which rows want logits, and which KV blocks must be copied first (copy-on-write).
// The rank executes it; nothing about a step lives in a global.

#include <cstdint>
#include <vector>

#include "actors/block_manager.hpp"
#include "model/forward_batch.hpp"

namespace sabre {

struct ScheduledChunk {
  SequenceId seq = 0;
  std::vector<int32_t> tokens;       // the tokens whose KV this step computes
  int64_t num_cached = 0;            // tokens already computed; tokens[i] sits at position num_cached + i
  std::vector<BlockId> block_table;  // the sequence's blocks, covering at least num_cached + tokens.size()
  bool is_decode = false;            // one generated token (otherwise a prefill chunk)
  bool wants_logits = false;         // decodes and the last chunk of a prompt: a token is sampled
};

// Copy block `from`'s KV into block `to` before the step writes into `to`.
struct BlockCopy {
  BlockId from = -1;
  BlockId to = -1;
};

struct StepPlan {
  std::vector<ScheduledChunk> chunks;     // decodes first, then prefill chunks
  std::vector<BlockCopy> block_copies;
  std::vector<SequenceId> preempted;      // freed this step, back to the waiting queue
  int64_t num_batched_tokens = 0;

  bool empty() const { return chunks.empty(); }
};

// The plan's tokens as a ForwardBatch (one slice per chunk, logits rows where wanted). The KV cache
// pointers stay null: the model still keeps one KvCache per sequence and the caller fills them in;
// the paged attention will read the chunks' block tables instead.
ForwardBatch to_forward_batch(const StepPlan& plan);

}  // namespace sabre
