#pragma once
// The engine's core without CAF: what the scheduler actor used to keep in its state. It owns the KV
// block pool and the Scheduler, tracks who owns each sequence (an OwnerId: the actor maps it to the
// request actor), knows which samplers the ranks hold, fans a planned step out (one StepInput shared by
// every rank), gathers the ranks' replies and applies steps in the order they were planned, measures
// step time, and turns everything into the messages the requests must receive. The actor only moves
// messages in and out.
//
// A failing rank fails the engine: the steps in flight are dropped, every request still running gets a
// SequenceFailure, nothing more is planned and new submissions are refused. (After a failed step the KV
// cache and the samplers may be half written; serving on would risk wrong answers.)

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <variant>
#include <vector>

#include "actors/block_manager.hpp"
#include "actors/internal_messages.hpp"
#include "actors/scheduler.hpp"

namespace sabre {

class EngineMetrics;

using OwnerId = uint64_t;

struct EngineCoreOptions {
  SchedulerConfig scheduler;
  BlockManagerConfig blocks;
  std::string model_name;
  int64_t vocab_size = 0;
  int32_t world_size = 1;                  // ranks that answer every step
  // Speculative decoding: up to this many proposed tokens per decode (0: none), by prompt lookup or, with
  // draft_on_rank, by the draft model on rank 0 (the plan carries kDraftToken placeholders); at most
  // speculative_max_rows rows of speculative decodes per step, none while more than
  // speculative_disable_above sequences run (0: no such limit). See Scheduler::enable_speculation.
  int32_t speculative_steps = 0;
  bool draft_on_rank = false;
  int32_t speculative_max_rows = 16;
  int32_t speculative_disable_above = 0;
  std::shared_ptr<EngineMetrics> metrics;  // may be null
};

// A sequence the engine could not run: its request ends it with an error.
struct SequenceFailure {
  SequenceId seq = 0;
  std::string why;
};

struct OwnerMessage {
  OwnerId owner = 0;
  std::variant<SequenceUpdate, SequenceFailure> message;
};

// What one call produced: messages for the requests, and owners with no sequence left in the engine
// (the actor can forget their handles).
struct CoreOutput {
  std::vector<OwnerMessage> messages;
  std::vector<OwnerId> released_owners;
};

struct PlannedStep {
  uint64_t id = 0;
  std::shared_ptr<const StepInput> input;  // the same for every rank
  EngineClock::time_point sent;
};

class EngineCore {
 public:
  explicit EngineCore(EngineCoreOptions options);

  // Queues a request's n samples for `owner`. The reply carries their sequence ids, or the error type and
  // message ("invalid_request_error", "overloaded", or "internal_error" once the engine has failed).
  SubmitReply submit(const SequenceSubmission& submission, OwnerId owner, CoreOutput& out);
  // Removes sequences wherever they are (unknown ids are ignored); their samplers go with the next step.
  void abort(std::span<const SequenceId> seqs, CoreOutput& out);

  // Plans the next step when one may run now (a step slot is free, something is unfinished, the engine
  // has not failed). Requests scheduled for the first time get their queue-time update in `out`.
  std::optional<PlannedStep> plan_step(CoreOutput& out, EngineClock::time_point now = EngineClock::now());

  // Rank `rank`'s reply to step `id`. Steps are applied in the order they were planned, each once every
  // rank has answered it: the sampled tokens the scheduler accepts go to their requests (with the
  // finish when they end one). Rank 0's samples are the ones used.
  void on_rank_output(uint64_t id, int32_t rank, StepOutput output, CoreOutput& out);
  // Rank `rank` could not run step `id` (an error, a timeout, a lost rank): the engine fails (see above).
  // When the error is a failed collective (kCollectiveFailure) and other ranks have yet to answer, the
  // failure waits for them, so that it names the rank whose failure the collective echoed.
  void on_rank_failure(uint64_t id, int32_t rank, const std::string& why, CoreOutput& out);

  bool failed() const { return failure_.has_value(); }
  const std::string& failure() const { return *failure_; }
  int64_t num_steps_in_flight() const { return static_cast<int64_t>(in_flight_.size()); }
  bool has_unfinished() const { return scheduler_->has_unfinished(); }
  int64_t num_tracked_sequences() const { return static_cast<int64_t>(sequences_.size()); }
  // Sequences whose sampler the ranks hold (for tests: it must drain with the requests).
  int64_t num_samplers_at_ranks() const { return static_cast<int64_t>(known_to_ranks_.size()); }
  EngineInfo info() const;
  // Publishes the scheduler's state to the metrics (the pool size shows before the first request).
  void publish_state() const;

 private:
  // A sequence as the core sees it: who owns it and what the ranks need to sample for it.
  struct TrackedSequence {
    OwnerId owner = 0;
    SamplerSpec sampler;
    EngineClock::time_point arrival;
  };
  struct InFlightStep {
    PlannedStep step;
    int32_t remaining = 0;             // ranks yet to answer
    std::optional<StepOutput> rank0;
    std::optional<std::string> echo_failure;  // a rank's collective failed: waiting for the cause
  };

  StepInput make_step_input(StepPlan plan, CoreOutput& out, EngineClock::time_point now);
  void apply(const InFlightStep& step, CoreOutput& out);
  void apply_completed_steps(CoreOutput& out);
  void forget(SequenceId seq, CoreOutput& out);
  // Fails the engine (see above) with `cause`.
  void fail(const std::string& cause, CoreOutput& out);
  double step_wall_seconds(EngineClock::time_point sent, EngineClock::time_point finished);

  EngineCoreOptions options_;
  std::unique_ptr<BlockManager> blocks_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unordered_map<SequenceId, TrackedSequence> sequences_;
  std::unordered_map<OwnerId, int64_t> owner_sequences_;  // live sequences per owner
  std::unordered_set<SequenceId> known_to_ranks_;         // sequences whose sampler the ranks hold
  std::vector<SequenceId> released_;                      // samplers the ranks may drop with the next step
  std::deque<InFlightStep> in_flight_;                    // oldest first, as the ranks run them
  SequenceId next_id_ = 1;
  uint64_t next_step_ = 1;
  std::optional<std::string> failure_;
  // When rank 0 finished the last step: a step sent while another ran starts its wall time there.
  EngineClock::time_point last_step_finished_;
  int64_t num_steps_ = 0;
  int64_t num_steps_planned_ahead_ = 0;
  int64_t batched_tokens_ = 0;
  double step_seconds_ = 0;
  double model_seconds_ = 0;
  int64_t num_proposed_ = 0;  // speculative tokens proposed and accepted
  int64_t num_accepted_ = 0;
};

}  // namespace sabre
