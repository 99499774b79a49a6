#include "actors/scheduler_actor.hpp"

#include "actors/engine_metrics.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

namespace sabre {
namespace {

// A sequence as the actor sees it: who owns it and what the ranks need to sample for it.
struct TrackedSequence {
  request_actor owner;
  SamplerSpec sampler;
  EngineClock::time_point arrival;
};

struct SchedulerActorState {
  // Not an aggregate, so CAF constructs it empty rather than from the actor pointer.
  SchedulerActorState() = default;
  static inline const char* name = "sabre.scheduler";

  SchedulerActorOptions options;
  // Built when the actor starts (CAF default-constructs the state); the scheduler refers to the blocks.
  std::unique_ptr<BlockManager> blocks;
  std::unique_ptr<Scheduler> scheduler;
  std::vector<rank_actor> ranks;
  std::unordered_map<SequenceId, TrackedSequence> sequences;
  std::unordered_set<SequenceId> known_to_ranks;  // sequences whose sampler the ranks hold
  std::vector<SequenceId> released;               // samplers the ranks may drop with the next step
  SequenceId next_id = 1;
  // When rank 0 finished the last step: a step sent while another ran starts its wall time there.
  EngineClock::time_point last_step_finished;
  int64_t num_steps = 0;
  int64_t num_steps_planned_ahead = 0;
  int64_t batched_tokens = 0;
  double step_seconds = 0;
  double model_seconds = 0;
};

using SchedulerSelf = scheduler_actor::stateful_pointer<SchedulerActorState>;

void maybe_step(SchedulerSelf self);

SubmitReply submit(SchedulerActorState& st, SequenceSubmission& submission, const request_actor& owner) {
  SubmitReply reply;
  std::vector<SequenceId> ids;
  for (int64_t i = 0; i < submission.n; ++i) ids.push_back(st.next_id++);
  SequenceRequest request;
  request.id = ids.front();
  request.prompt = submission.prompt;
  request.max_tokens = submission.max_tokens;
  request.stop_token_ids = submission.sampling.stop_token_ids;
  request.stop_token_ids.insert(request.stop_token_ids.end(), submission.eos_token_ids.begin(),
                                submission.eos_token_ids.end());
  request.extra_sample_ids.assign(ids.begin() + 1, ids.end());
  try {
    st.scheduler->add(std::move(request));
  } catch (const SchedulerOverloaded& e) {
    reply.error_type = "overloaded";
    reply.error_message = e.what();
    return reply;
  } catch (const SchedulerRequestInvalid& e) {
    reply.error_type = "invalid_request_error";
    reply.error_message = e.what();
    return reply;
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    TrackedSequence tracked{owner, {}, submission.arrival};
    tracked.sampler.key = ids[i];
    tracked.sampler.params = submission.sampling;
    tracked.sampler.prompt = submission.prompt;
    tracked.sampler.eos_token_ids = submission.eos_token_ids;
    tracked.sampler.stream = i;  // sample i of the request: its own stream under the request's seed
    st.sequences.emplace(ids[i], std::move(tracked));
  }
  reply.sequence_ids = std::move(ids);
  return reply;
}

void publish_state(SchedulerActorState& st) {
  if (st.options.metrics) st.options.metrics->set_scheduler_state(read_scheduler_state(*st.scheduler, *st.blocks));
}

void forget(SchedulerActorState& st, SequenceId seq) {
  st.sequences.erase(seq);
  if (st.known_to_ranks.erase(seq) != 0) st.released.push_back(seq);
}

// The rank-side inputs of a plan: samplers for sequences the ranks will sample for the first time.
// Also collects, for requests scheduled for the first time, the update that tells them their queue time.
StepInput make_step_input(SchedulerActorState& st, StepPlan plan, std::vector<SequenceUpdate>& first_updates) {
  StepInput input;
  const auto now = EngineClock::now();
  for (SequenceId seq : plan.first_scheduled) {
    auto tracked = st.sequences.find(seq);
    if (tracked == st.sequences.end()) continue;
    SequenceUpdate first;
    first.seq = seq;
    first.queue_seconds = std::chrono::duration<double>(now - tracked->second.arrival).count();
    if (st.options.metrics) st.options.metrics->observe_queue_time(first.queue_seconds);
    for (const ScheduledChunk& chunk : plan.chunks) {
      if (chunk.seq == seq) first.cached_prompt_tokens = chunk.num_cached;
    }
    first_updates.push_back(std::move(first));
  }
  for (const ScheduledChunk& chunk : plan.chunks) {
    for (SequenceId seq : chunk.sample_ids) {
      if (st.known_to_ranks.count(seq) != 0) continue;
      auto it = st.sequences.find(seq);
      if (it == st.sequences.end()) continue;
      input.new_samplers.push_back(it->second.sampler);
      st.known_to_ranks.insert(seq);
    }
  }
  input.plan = std::move(plan);
  input.released = std::move(st.released);
  st.released.clear();
  return input;
}

void on_step_output(SchedulerSelf self, const StepPlan& plan, const StepOutput& output, double wall_seconds) {
  auto& st = self->state;
  const double model_seconds = output.model_seconds + output.sample_seconds;
  st.model_seconds += model_seconds;
  std::vector<StepResult> results;
  results.reserve(output.samples.size());
  std::unordered_map<SequenceId, const SampledToken*> sampled;
  for (const SequenceSample& s : output.samples) {
    results.push_back({s.seq, s.token.token});
    sampled.emplace(s.seq, &s.token);
  }
  const StepOutcome outcome = st.scheduler->on_step_done(results);
  std::unordered_map<SequenceId, FinishReason> finished_reason;
  for (const FinishedSequence& f : outcome.finished) finished_reason.emplace(f.seq, f.reason);

  // Only the tokens the scheduler accepted reach the requests (not those of sequences aborted meanwhile).
  for (const StepResult& accepted : outcome.accepted) {
    auto tracked = st.sequences.find(accepted.seq);
    if (tracked == st.sequences.end()) continue;
    SequenceUpdate update;
    update.seq = accepted.seq;
    update.tokens.push_back(*sampled.at(accepted.seq));
    if (auto f = finished_reason.find(accepted.seq); f != finished_reason.end()) {
      update.finished = true;
      update.reason = f->second;
    }
    self->send(tracked->second.owner, std::move(update));
  }
  for (const FinishedSequence& f : outcome.finished) forget(st, f.seq);
  if (st.options.metrics) {
    st.options.metrics->observe_step(plan.num_batched_tokens, model_seconds, wall_seconds - model_seconds);
    st.options.metrics->set_scheduler_state(read_scheduler_state(*st.scheduler, *st.blocks));
  }
}

// Every sequence of a failed step ends with an error: its KV may be half written.
void on_step_error(SchedulerSelf self, const StepPlan& plan, const caf::error& error) {
  auto& st = self->state;
  const std::string message = self->system().render(error);
  spdlog::error("scheduler: step failed: {}", message);
  for (const ScheduledChunk& chunk : plan.chunks) {
    for (SequenceId seq : chunk.sample_ids.empty() ? std::vector<SequenceId>{chunk.seq} : chunk.sample_ids) {
      auto tracked = st.sequences.find(seq);
      if (tracked == st.sequences.end()) continue;
      self->send(tracked->second.owner, failed_atom::value, seq, "the step running this request failed: " + message);
      st.scheduler->abort(seq);
      forget(st, seq);
    }
  }
  (void)st.scheduler->on_step_done({});
  publish_state(st);
}

// The wall time of a step at the rank: from when it was sent, or from when the rank finished the step
// before it if that was later (the step waited in the rank's queue, its planning hidden), to when the
// rank finished it. Planning that the rank waits for falls between steps, outside every step's time.
double step_wall_seconds(SchedulerActorState& st, EngineClock::time_point sent, EngineClock::time_point finished) {
  const double wall = std::chrono::duration<double>(finished - std::max(sent, st.last_step_finished)).count();
  st.last_step_finished = std::max(st.last_step_finished, finished);
  return std::max(0.0, wall);
}

bool send_step(SchedulerSelf self);

// Sends steps while the Scheduler takes them: with async scheduling (two steps in flight) step N+1 is
// planned and queued at the ranks while they run step N, so its planning costs the model no time.
void maybe_step(SchedulerSelf self) {
  while (self->state.scheduler->can_schedule() && self->state.scheduler->has_unfinished()) {
    if (!send_step(self)) return;
  }
}

// Plans one step and sends it to every rank; false when there was nothing to run.
bool send_step(SchedulerSelf self) {
  auto& st = self->state;
  const bool ahead = st.scheduler->step_in_flight();
  StepPlan plan = st.scheduler->schedule();
  if (plan.empty()) return false;
  st.num_steps_planned_ahead += ahead ? 1 : 0;
  std::vector<SequenceUpdate> first_updates;
  auto input = std::make_shared<const StepInput>(make_step_input(st, std::move(plan), first_updates));
  for (SequenceUpdate& update : first_updates) {
    self->send(st.sequences.at(update.seq).owner, std::move(update));
  }
  const auto sent = EngineClock::now();
  ++st.num_steps;
  st.batched_tokens += input->plan.num_batched_tokens;
  auto remaining = std::make_shared<size_t>(st.ranks.size());
  auto rank0_output = std::make_shared<std::optional<StepOutput>>();
  auto failed = std::make_shared<bool>(false);
  for (size_t r = 0; r < st.ranks.size(); ++r) {
    self->request(st.ranks[r], caf::infinite, execute_atom::value, *input)
        .then(
            [self, r, remaining, rank0_output, failed, input, sent](StepOutput& output) {
              if (r == 0) *rank0_output = std::move(output);
              if (--*remaining != 0) return;
              const auto finished = *rank0_output ? (*rank0_output)->finished_at : EngineClock::now();
              const double wall = step_wall_seconds(self->state, sent, finished);
              self->state.step_seconds += wall;
              if (*failed) {
                on_step_error(self, input->plan, caf::make_error(caf::sec::runtime_error, "a rank failed"));
              } else {
                on_step_output(self, input->plan, **rank0_output, wall);
              }
              maybe_step(self);
            },
            [self, remaining, failed, input, sent](caf::error& error) {
              *failed = true;
              if (--*remaining != 0) return;
              self->state.step_seconds += step_wall_seconds(self->state, sent, EngineClock::now());
              on_step_error(self, input->plan, error);
              maybe_step(self);
            });
  }
  return true;
}

scheduler_actor::behavior_type scheduler_behavior(SchedulerSelf self, SchedulerActorOptions options,
                                                  std::vector<rank_actor> ranks) {
  auto& st = self->state;
  st.options = std::move(options);
  st.blocks = std::make_unique<BlockManager>(st.options.blocks);
  st.scheduler = std::make_unique<Scheduler>(st.options.scheduler, *st.blocks);
  st.ranks = std::move(ranks);
  // A rank that dies takes the scheduler (and, linked to it, the engine) down: nothing could run.
  for (const rank_actor& rank : st.ranks) self->link_to(rank);
  publish_state(st);  // /metrics shows the pool's size before the first request
  return {
      [self](submit_atom, SequenceSubmission& submission, const request_actor& owner) -> SubmitReply {
        SubmitReply reply = submit(self->state, submission, owner);
        if (reply.error_type.empty()) maybe_step(self);
        publish_state(self->state);
        return reply;
      },
      [self](abort_atom, const std::vector<SequenceId>& seqs) {
        for (SequenceId seq : seqs) {
          self->state.scheduler->abort(seq);
          forget(self->state, seq);
        }
        publish_state(self->state);
      },
      [self](info_atom) -> EngineInfo {
        auto& st = self->state;
        EngineInfo info;
        info.model_name = st.options.model_name;
        info.max_model_len = st.options.scheduler.max_model_len;
        info.vocab_size = st.options.vocab_size;
        const SchedulerState now = read_scheduler_state(*st.scheduler, *st.blocks);
        info.num_running = now.num_running;
        info.num_waiting = now.num_waiting;
        info.kv_blocks_total = now.kv_blocks_total;
        info.kv_blocks_used = now.kv_blocks_used;
        info.num_preemptions = now.num_preemptions;
        info.prefix_cache_queried_blocks = now.prefix_cache.queried_blocks;
        info.prefix_cache_hit_blocks = now.prefix_cache.hit_blocks;
        info.num_steps = st.num_steps;
        info.num_steps_planned_ahead = st.num_steps_planned_ahead;
        info.batched_tokens = st.batched_tokens;
        info.step_seconds = st.step_seconds;
        info.model_seconds = st.model_seconds;
        return info;
      },
  };
}

}  // namespace

scheduler_actor spawn_scheduler(caf::actor_system& system, SchedulerActorOptions options,
                                std::vector<rank_actor> ranks) {
  return system.spawn(scheduler_behavior, std::move(options), std::move(ranks));
}

}  // namespace sabre
