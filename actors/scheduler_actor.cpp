#include "actors/scheduler_actor.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <unordered_map>

#include "actors/step_deadlines.hpp"

namespace sabre {
namespace {

struct SchedulerActorState {
  // Not an aggregate, so CAF constructs it empty rather than from the actor pointer.
  SchedulerActorState() = default;
  static inline const char* name = "sabre.scheduler";

  std::unique_ptr<EngineCore> core;  // built when the actor starts (CAF default-constructs the state)
  std::vector<rank_actor> ranks;
  std::unordered_map<OwnerId, request_actor> owners;
  std::chrono::milliseconds step_timeout{0};
  StepDeadlines deadlines;       // every (step, rank) sent and not yet answered
  bool deadline_timer = false;   // a deadline_atom is pending: at most one at a time
  std::function<void()> abort_collectives;
};

using SchedulerSelf = scheduler_actor::stateful_pointer<SchedulerActorState>;

// Delivers what the core produced; after a failure, quits (the engine and the ranks go with it).
void deliver(SchedulerSelf self, CoreOutput& out) {
  auto& st = self->state;
  for (OwnerMessage& m : out.messages) {
    const auto owner = st.owners.find(m.owner);
    if (owner == st.owners.end()) continue;
    if (auto* update = std::get_if<SequenceUpdate>(&m.message)) {
      self->send(owner->second, std::move(*update));
    } else {
      auto& failure = std::get<SequenceFailure>(m.message);
      self->send(owner->second, failed_atom::value, failure.seq, std::move(failure.why));
    }
  }
  for (OwnerId owner : out.released_owners) st.owners.erase(owner);
  if (st.core->failed()) self->quit(caf::make_error(caf::sec::runtime_error, st.core->failure()));
}

// Keeps one deadline_atom pending while steps run, due at the soonest deadline (see StepDeadlines).
void arm_deadline_timer(SchedulerSelf self) {
  auto& st = self->state;
  const auto earliest = st.deadlines.earliest();
  if (st.deadline_timer || !earliest) return;
  st.deadline_timer = true;
  const auto wait = std::max(StepDeadlines::Clock::duration::zero(), *earliest - StepDeadlines::Clock::now());
  self->delayed_send(self, std::chrono::duration_cast<std::chrono::milliseconds>(wait) + std::chrono::milliseconds(1),
                     deadline_atom::value);
}

// A rank failed step `id` (an error or its deadline passed): the engine fails, and the ranks' collectives
// are aborted so that peers waiting on that rank inside one stop too.
void fail_step(SchedulerSelf self, uint64_t id, int32_t rank, const std::string& why) {
  auto& st = self->state;
  st.deadlines.finish(id, rank);
  CoreOutput out;
  const bool first_failure = !st.core->failed();
  st.core->on_rank_failure(id, rank, why, out);
  if (first_failure && st.abort_collectives) st.abort_collectives();
  deliver(self, out);
}

void check_deadlines(SchedulerSelf self) {
  auto& st = self->state;
  st.deadline_timer = false;
  for (const StepDeadlines::Pending& late : st.deadlines.overdue(StepDeadlines::Clock::now())) {
    fail_step(self, late.step, late.rank,
              fmt::format("rank {} did not answer step {} within the step timeout of {:.3g} s",
                          late.rank, late.step, std::chrono::duration<double>(st.step_timeout).count()));
  }
  arm_deadline_timer(self);
}

// Sends steps while the core plans them: with async scheduling (two steps in flight) step N+1 is planned
// and queued at the ranks while they run step N, so its planning costs the model no time. The requests
// carry no CAF timeout (see StepDeadlines); the deadline timer bounds them.
void maybe_step(SchedulerSelf self) {
  auto& st = self->state;
  for (;;) {
    CoreOutput out;
    std::optional<PlannedStep> step = st.core->plan_step(out);
    deliver(self, out);
    if (!step) return;
    const auto deadline = StepDeadlines::Clock::now() + st.step_timeout;
    for (size_t r = 0; r < st.ranks.size(); ++r) {
      const auto rank = static_cast<int32_t>(r);
      st.deadlines.start(step->id, rank, deadline);
      self->request(st.ranks[r], caf::infinite, execute_atom::value, *step->input)
          .then(
              [self, id = step->id, rank](StepOutput& output) {
                self->state.deadlines.finish(id, rank);
                CoreOutput out;
                self->state.core->on_rank_output(id, rank, std::move(output), out);
                deliver(self, out);
                maybe_step(self);
              },
              [self, id = step->id, rank](caf::error& error) {
                fail_step(self, id, rank, self->system().render(error));
              });
    }
    arm_deadline_timer(self);
  }
}

scheduler_actor::behavior_type scheduler_behavior(SchedulerSelf self, EngineCoreOptions options,
                                                  std::vector<rank_actor> ranks,
                                                  std::function<void()> abort_collectives) {
  auto& st = self->state;
  st.abort_collectives = std::move(abort_collectives);
  st.step_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(options.scheduler.step_timeout_seconds));
  options.world_size = static_cast<int32_t>(ranks.size());
  st.core = std::make_unique<EngineCore>(std::move(options));
  st.ranks = std::move(ranks);
  // A rank that dies takes the scheduler (and, linked to it, the engine) down: nothing could run.
  for (const rank_actor& rank : st.ranks) self->link_to(rank);
  st.core->publish_state();  // /metrics shows the pool's size before the first request
  return {
      [self](submit_atom, SequenceSubmission& submission, const request_actor& owner) -> SubmitReply {
        auto& st = self->state;
        CoreOutput out;
        SubmitReply reply = st.core->submit(submission, owner.id(), out);
        if (reply.error_type.empty()) st.owners.emplace(owner.id(), owner);
        deliver(self, out);
        if (reply.error_type.empty()) maybe_step(self);
        return reply;
      },
      [self](abort_atom, const std::vector<SequenceId>& seqs) {
        CoreOutput out;
        self->state.core->abort(seqs, out);
        deliver(self, out);
      },
      [self](info_atom) -> EngineInfo { return self->state.core->info(); },
      [self](deadline_atom) { check_deadlines(self); },
  };
}

}  // namespace

scheduler_actor spawn_scheduler(caf::actor_system& system, EngineCoreOptions options, std::vector<rank_actor> ranks,
                                std::function<void()> abort_collectives) {
  return system.spawn(scheduler_behavior, std::move(options), std::move(ranks), std::move(abort_collectives));
}

}  // namespace sabre
