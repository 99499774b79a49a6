#pragma once
// The scheduler's answer for one step, as a plain value: which sequences run, which of their tokens,
// where those sit, which rows want logits, and which KV blocks must be copied first (copy-on-write).
// The rank executes it; nothing about a step lives in a global.

#include <cstdint>
#include <vector>

#include "actors/block_manager.hpp"
#include "kernels/backend.hpp"
#include "model/forward_batch.hpp"

namespace sabre {

// The placeholder a decode chunk carries when its input token is the one the step before samples (async
// scheduling plans step N+1 while step N runs; the rank substitutes the token it sampled in step N).
inline constexpr int32_t kPendingToken = -1;
// The placeholder of a proposal the rank's draft model makes (speculative decoding with a draft model):
// the scheduler reserves its slot, the rank drafts the token before the target verifies it, and the
// accepted ones come back in the run.
inline constexpr int32_t kDraftToken = -2;

struct ScheduledChunk {
  SequenceId seq = 0;
  std::vector<int32_t> tokens;       // the tokens whose KV this step computes
  int64_t num_cached = 0;            // tokens already computed; tokens[i] sits at position num_cached + i
  std::vector<BlockId> block_table;  // the sequence's blocks, covering at least num_cached + tokens.size()
  bool is_decode = false;            // one generated token (otherwise a prefill chunk)
  // A decode whose input is the token this sequence samples in the step still in flight before this
  // one: tokens is {kPendingToken} and the rank puts in the token it sampled last for `seq`.
  bool input_is_pending = false;
  bool wants_logits = false;         // decodes and the last chunk of a prompt: tokens are sampled
  // A speculative decode: tokens is {input, d_1 .. d_n} with the last num_proposed proposed (by prompt
  // lookup, or kDraftToken each: the rank's draft model proposes them); every row gets logits, the rank
  // verifies the proposals (kernels/speculative.hpp) and returns the accepted ones and one token of its
  // own, in order, all for `seq`.
  int32_t num_proposed = 0;
  // When wants_logits: sample one token from this chunk's logits row for each id here, each with that
  // sequence's own sampler, and return one StepResult per id. Normally just {seq}; the chunk that
  // completes the prompt of an n > 1 request lists {seq, sample 2, ..., sample n}. Empty otherwise.
  std::vector<SequenceId> sample_ids;
  // A prefill chunk that scores the prompt (SequenceRequest::prompt_logprobs): -1 none, else how many
  // top alternatives each scored token reports. Every row then gets logits; row i scores the prompt
  // token after it: tokens[i + 1], and for the last row next_prompt_token (-1 when this chunk ends the
  // prompt: that row is the one sampled from, when wants_logits).
  int32_t prompt_logprobs = -1;
  int32_t next_prompt_token = -1;

  bool scores_prompt() const { return prompt_logprobs >= 0; }
  // Logits rows the chunk takes in the step.
  int64_t logit_rows() const {
    if (scores_prompt()) return static_cast<int64_t>(tokens.size());
    if (!wants_logits) return 0;
    return 1 + num_proposed;
  }
};

// Copy block `from`'s KV into block `to` (copy-on-write of a partial block shared by n > 1 siblings).
// Apply all of a plan's copies in list order before its forward pass: `from` may be written by the
// same step (the last sibling keeps the original block), and a block freed by a preemption while
// planning may be the source of one copy and the target of a later one.
struct BlockCopy {
  BlockId from = -1;
  BlockId to = -1;
};

struct StepPlan {
  std::vector<ScheduledChunk> chunks;     // decodes first, then prefill chunks
  std::vector<BlockCopy> block_copies;
  std::vector<SequenceId> preempted;      // freed this step, back to the waiting queue
  // Requests scheduled for the first time in this step (their queue time ends now); readmissions after
  // a preemption and forked samples are not listed. The id is the request's (the one given to
  // Scheduler::add, or its first sample's when that one was aborted before it ever ran).
  std::vector<SequenceId> first_scheduled;
  int64_t num_batched_tokens = 0;

  bool empty() const { return chunks.empty(); }
};

// Whether the chunk's proposals are for the rank's draft model to make (kDraftToken placeholders).
inline bool proposals_drafted_by_rank(const ScheduledChunk& chunk) {
  return chunk.num_proposed > 0 && chunk.tokens.size() > 1 && chunk.tokens[1] == kDraftToken;
}

// The plan's tokens as a ForwardBatch: one slice per chunk, reading and writing KV through the chunk's
// block table in the pool `kv` (the rank's KvCache, whose blocks the scheduler's BlockManager hands
// out), logits rows where wanted. `kv` may be null for callers that only look at the tokens; the model
// refuses such a batch.
ForwardBatch to_forward_batch(const StepPlan& plan, KvCache* kv = nullptr);

// The plan's copy-on-write copies in the backend's terms, in order: run them (Backend::copy_kv_blocks)
// before the step's forward pass, which writes into the copies' targets.
std::vector<KvBlockCopy> kv_block_copies(const StepPlan& plan);

}  // namespace sabre
