#pragma once
// The draft model of speculative decoding on the rank, CAF-free: a smaller model of the target's
// vocabulary with a KV pool of its own, indexed by the same block ids as the target's (the scheduler's
// BlockManager hands out one id per block for both pools), so the draft needs no block bookkeeping of
// its own. Each step, before the target's pass, it runs:
//   1. the step's prefill chunks, and the tokens of each decode it proposes for that its KV lacks (its
//      lag) with the decode's input, a logits row each;
//   2. one pass per further proposal, batched over those decodes;
// and writes its greedy tokens over the plan's kDraftToken placeholders. Greedy drafts are one-hot
// draft distributions, for which the rejection rule is exact at any temperature.
//
// A decode that does not propose (none were reserved for it: max_tokens near, the row cap, a full pool,
// a batch past --speculative-disable-by-batch-size) costs the draft nothing then: its input joins the
// lag, which the draft catches up on the next time it proposes, or as soon as the lag would fill a block
// (a full block may be published in the prefix cache and read again after a preemption, so its draft
// KV must be complete), in passes of at most its step limit. After
// verification the draft's KV holds the input and the proposals before the last one; when every
// proposal was accepted the last one starts the lag. The draft's KV only steers what it proposes,
// never what is generated: a stale draft KV costs acceptance, not correctness. A block completed by that
// last accepted proposal is cached before the draft writes its slot (the next step does); when a
// preemption comes in between, the lag is kept and written first when the sequence is recomputed from
// its cached blocks. (Another sequence hitting that block in the cache during that one step could still
// read the slot stale.)

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
  // The same for a step with nothing to draft (its prefills and lags only): the plan is only read.
  void follow(const StepPlan& plan);
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
  // Tokens the first pass computes for one sequence, from position `first` on; a drafting chunk's
  // last token gets a logits row (its first proposal).
  struct Segment {
    size_t index = 0;  // the chunk's in the plan
    std::vector<int32_t> tokens;
    int64_t first = 0;
    bool drafts = false;
  };
  // The first pass's segments: prefill chunks, drafting decodes with their lag, and the lag of a
  // non-drafting decode that fills its block. Other non-drafting decodes join their lag instead.
  std::vector<Segment> first_pass_segments(const StepPlan& plan);
  // Runs segments in as many passes as the draft's step limit needs (a long lag is cut into pieces,
  // each sequence at most once per pass, in order) and writes each drafting chunk's first proposal into
  // `proposals` (the plan itself; null when nothing drafts).
  void run_segments(const std::vector<Segment>& segments, const StepPlan& plan, StepPlan* proposals);
  // One pass over `batch_`; the greedy token of logits row i becomes proposal `index` of drafting[i].
  void run_pass(const std::vector<ScheduledChunk*>& drafting, int32_t index);

  Transformer& draft_;
  std::unique_ptr<KvCache> kv_;
  std::unordered_map<SequenceId, Lag> lag_;
  ForwardBatch batch_;
  std::vector<float> logits_;
  int64_t passes_ = 0;
};

}  // namespace sabre
