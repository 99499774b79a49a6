#pragma once
// The scheduling policy of the engine, CAF-free so each decision can be unit tested: continuous
// batching under a per-step token budget, decodes first, chunked prefill, FCFS admission, preemption
// by recompute, a bounded waiting queue and abort. The scheduler actor wraps it.
//
// Protocol: schedule() plans a step and on_step_done() applies the oldest step in flight; add() and
// abort() may come at any moment. With max_steps_in_flight 1 they alternate. With 2 (async scheduling,
// what the engine uses) step N+1 is planned while step N runs, so planning hides behind the model:
// - a sequence that step N samples for decodes in step N+1 with a placeholder input token
//   (ScheduledChunk::input_is_pending) that the rank fills in with what it sampled;
// - a sequence that step N will certainly finish (its max_tokens reached) is left out; one that step N
//   finishes by a stop token is in step N+1 for nothing: its row is computed, its result dropped, and
//   its freed blocks are written once more by step N+1 before any later step (the ranks run steps in
//   order) can reuse them. Blocks it wrote are never published in the prefix cache;
// - no preemption victim is taken from a step in flight (the rank's sampler for it has already drawn),
//   and a sequence whose step-N chunk forks n > 1 samples waits for the fork.
//
// n > 1 samples (SequenceRequest::extra_sample_ids): only the first id is queued and prefilled. The
// chunk that completes its prompt lists every sample in ScheduledChunk::sample_ids; on_step_done forks
// the others from it (they share its prompt blocks) and from then on they are independent sequences
// (own tokens, finish, preemption and abort). Their first appends may copy the shared partial last
// block; those copies travel in the next plan's block_copies.

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/block_manager.hpp"
#include "actors/sequence.hpp"
#include "actors/step_plan.hpp"
#include "config/engine_options.hpp"

namespace sabre {

// The server is full: the waiting queue is at its bound. The HTTP layer answers 503.
class SchedulerOverloaded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A request that can never run: too long for max_model_len or for the whole KV pool, or malformed.
// The HTTP layer answers 400.
class SchedulerRequestInvalid : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One sampled token: one per id in the sample_ids of each chunk that wanted logits.
struct StepResult {
  SequenceId seq = 0;
  int32_t token = 0;
};

struct FinishedSequence {
  SequenceId seq = 0;
  FinishReason reason = FinishReason::length;
  std::vector<int32_t> generated;
};

// What on_step_done applied.
struct StepOutcome {
  // The sampled tokens the scheduler appended, in plan order: stream these, and only these, to the
  // requests. A rank's result for a sequence aborted while the step ran is not here, nor are the tokens
  // sampled for the samples of a parent aborted before their fork (their prefill starts over).
  std::vector<StepResult> accepted;
  // Sequences that finished with this step (their last token is in `accepted`); blocks already freed.
  std::vector<FinishedSequence> finished;
};

class Scheduler {
 public:
  // `blocks` must outlive the scheduler; the scheduler is its only user.
  Scheduler(SchedulerConfig config, BlockManager& blocks);

  // Queues a request (one waiting entry, whatever its n). Throws SchedulerOverloaded when the waiting
  // queue is full and SchedulerRequestInvalid when it can never fit: longer than max_model_len, more KV
  // than the whole pool (for n > 1: all samples at full length at once, the prompt's full blocks shared),
  // more samples than max_num_seqs, or an id in use (the message names the numbers involved).
  void add(SequenceRequest request);

  // Removes the sequence wherever it is (waiting, running, mid-prefill, in the step in flight, or an
  // n > 1 sample not forked yet) and frees its blocks now. Aborting the sequence that prefills for
  // unforked samples hands the prefill to the first of them (same FCFS place, prefill starts over with
  // whatever the prefix cache still holds). Returns false for an unknown (finished or never added) id.
  bool abort(SequenceId seq);

  // Speculative decoding: each decode proposes up to k tokens from `propose` (given the sequence's
  // tokens, prompt and output) and reserves their slots; on_step_done keeps the accepted run and
  // truncates the rest. Proposals may be kDraftToken placeholders (a draft model on the rank makes them):
  // the accepted tokens of the run then take their places.
  // With steps planned ahead (max_steps_in_flight > 1), a sequence proposes only when no step in flight
  // has yet to sample its last token, and one whose speculative decode is in flight is not planned
  // again until that step is applied (where its next token goes depends on how many were accepted):
  // speculating sequences run one step at a time, the others ahead.
  // `max_rows` bounds the rows a step's speculative decodes take together (inputs and proposals): each
  // of n running sequences proposes at most max_rows / n - 1 tokens, so a large batch, which already
  // reads the weights once for many rows, is not pushed onto slower many-row kernels.
  // `disable_above` > 0: no proposals while more sequences than that run (a batch that large gains
  // less from speculation than it loses to verification and, with a draft model, drafting).
  using Proposer = std::function<std::vector<int32_t>(std::span<const int32_t> tokens, int32_t k)>;
  void enable_speculation(int32_t k, Proposer propose, int32_t max_rows = 16, int32_t disable_above = 0);

  // Plans the next step. Throws std::logic_error when max_steps_in_flight steps are in flight already.
  // An empty plan is not in flight.
  StepPlan schedule();
  bool can_schedule() const { return static_cast<int32_t>(in_flight_.size()) < config_.max_steps_in_flight; }

  // Applies the oldest step in flight: marks its KV computed, forks n > 1 samples whose prompt is now
  // computed, appends the sampled tokens (one per sample id of each chunk that wanted logits; results
  // for sequences aborted meanwhile are ignored) and returns the tokens it applied and the sequences
  // that finished, whose blocks are already freed. Needs no free block (the new tokens' slots are taken when the next step is
  // planned, where a shortage preempts), so it never fails for lack of room.
  StepOutcome on_step_done(const std::vector<StepResult>& results);

  int64_t num_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  int64_t num_running() const { return static_cast<int64_t>(running_.size()); }
  bool has_unfinished() const { return !waiting_.empty() || !running_.empty(); }
  bool step_in_flight() const { return !in_flight_.empty(); }
  int64_t num_steps_in_flight() const { return static_cast<int64_t>(in_flight_.size()); }
  // Preemptions so far (a counter for metrics).
  int64_t num_preemptions() const { return num_preemptions_; }
  const SchedulerSequence* find(SequenceId seq) const;
  // Ids in queue order, for tests and metrics.
  std::vector<SequenceId> waiting_ids() const;
  std::vector<SequenceId> running_ids() const;

 private:
  struct Budget {
    int64_t tokens = 0;
    int64_t prompt_logprob_rows = 0;  // rows left for chunks that score their prompt
  };
  // How many of `s`'s prompt tokens its next prefill chunk may take within `budget` (0: none now).
  int64_t prefill_length(const SchedulerSequence& s, const Budget& budget) const;
  // The proposals for sequence `s`'s next decode: at most what its budget, max_tokens and
  // max_model_len leave room for (the target's own token included), none when it cannot take them all.
  std::vector<int32_t> proposals_for(const SchedulerSequence& s, const Budget& budget) const;
  // Whether decodes propose now (speculation on and the batch within disable_above).
  bool speculating() const;
  // Applies a speculative decode's run (accepted proposals, then the target's token).
  void apply_speculative_run(const ScheduledChunk& chunk, const std::vector<int32_t>& run, StepOutcome& outcome);
  void schedule_decodes(StepPlan& plan, Budget& budget);
  void schedule_running_prefills(StepPlan& plan, Budget& budget);
  void admit_waiting(StepPlan& plan, Budget& budget);
  void add_prefill_chunk(StepPlan& plan, Budget& budget, SchedulerSequence& s);
  // Free blocks admission keeps back while something runs (SchedulerConfig::watermark).
  int64_t watermark_blocks() const;
  // Running sequences plus the unforked samples of running ones: what max_num_seqs bounds.
  int64_t num_sequence_slots_taken() const;
  void insert_running(SequenceId seq);
  // Gives `child` (an unforked sample of `parent`, whose prompt is now computed) the parent's blocks and
  // its own first token, and makes it a running sequence.
  void fork_sample(SchedulerSequence& parent, SequenceId child, int32_t token);
  // `parent` is being aborted before its samples were forked: the first sample takes over its place.
  void hand_over_prefill(const SchedulerSequence& parent);
  void drop_from_step_in_flight(SequenceId seq);
  void check_new_request(const SequenceRequest& request) const;
  // Frees the most recently arrived running sequence that is neither in `plan` nor in a step in flight
  // and puts it back in the waiting queue; returns its id, or nothing when there is no such sequence.
  std::optional<SequenceId> preempt_latest(StepPlan& plan);
  void insert_waiting(SequenceId seq);
  void finish(SequenceId seq, FinishReason reason, std::vector<FinishedSequence>& out);
  std::optional<FinishReason> finish_reason(const SchedulerSequence& s) const;

  SchedulerConfig config_;
  BlockManager& blocks_;
  std::unordered_map<SequenceId, SchedulerSequence> sequences_;
  std::deque<SequenceId> waiting_;    // ascending arrival (FCFS; preempted ones return to their place)
  std::vector<SequenceId> running_;   // ascending arrival, so the back is the preemption victim
  std::deque<StepPlan> in_flight_;  // oldest first, as the ranks run them
  int64_t next_arrival_ = 0;
  int32_t speculative_steps_ = 0;  // 0: no speculation
  int32_t speculative_max_rows_ = 16;
  int32_t speculative_disable_above_ = 0;  // 0: speculate at any batch size
  Proposer propose_;
  int64_t num_preemptions_ = 0;
};

}  // namespace sabre
