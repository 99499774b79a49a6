#pragma once
// The draft model of speculative decoding on the rank, CAF-free: a smaller model of the target's
// vocabulary with a KV pool of its own, indexed by the same block ids as the target's (the scheduler's
// BlockManager hands out one id per block for both pools), so the draft needs no block bookkeeping of
// its own. Each step it runs before the target:
//   1. one pass over every prefill chunk and decode input of the plan (its KV follows the target's),
//      with a logits row for each decode whose proposals it makes;
//   2. one pass per further proposal, batched over those decodes;
// and writes its greedy tokens over the plan's kDraftToken placeholders. Greedy drafts are one-hot
// draft distributions, for which the rejection rule is exact at any temperature.
//
// After verification the draft's KV holds the input and the proposals before the last one; when every
// proposal was accepted, the last proposal's KV is missing and is fed with the next input (the lag).
// The draft's KV only steers what it proposes, never what is generated: a stale draft KV costs
// acceptance, not correctness.

#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "actors/step_plan.hpp"
#include "model/transformer.hpp"

namespace sabre {

class DraftRunner {
 public:
  // A pool of `num_blocks` blocks of `block_size` tokens of `kv_dtype` for `draft`, which must outlive
  // the runner.
  DraftRunner(Transformer& draft, int64_t num_blocks, int64_t block_size, ElementType kv_dtype);

  // Runs the draft over the plan's chunks and fills every drafted chunk's placeholders with its
  // proposals. Copy-on-write copies of the plan must have been applied to this pool first (copy_blocks).
  void propose(StepPlan& plan);
  // The run the target kept for a drafted chunk (accepted proposals, then its own token).
  void verified(const ScheduledChunk& chunk, std::span<const int32_t> run);
  void release(SequenceId seq) { lag_.erase(seq); }
  void copy_blocks(std::span<const KvBlockCopy> copies);

  Transformer& model() { return draft_; }
  int64_t passes() const { return passes_; }

 private:
  // Tokens of a sequence whose draft KV is not written yet, from position `position` on.
  struct Lag {
    int64_t position = 0;
    std::vector<int32_t> tokens;
  };
  // The first pass: prefill chunks and decode inputs (with their lag). Returns the drafted chunks in the
  // order of their logits rows.
  std::vector<ScheduledChunk*> first_pass(StepPlan& plan);
  // The greedy token of each logits row of the last pass, written as proposal `index` of its chunk.
  void take_proposals(const std::vector<ScheduledChunk*>& chunks, int32_t index);

  Transformer& draft_;
  std::unique_ptr<KvCache> kv_;
  std::unordered_map<SequenceId, Lag> lag_;
  ForwardBatch batch_;
  std::vector<float> logits_;
  int64_t passes_ = 0;
};

}  // namespace sabre
