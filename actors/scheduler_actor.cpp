#include "actors/scheduler_actor.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <unordered_map>

namespace sabre {
namespace {

struct SchedulerActorState {
  // Not an aggregate, so CAF constructs it empty rather than from the actor pointer.
  SchedulerActorState() = default;
  static inline const char* name = "sabre.scheduler";

  std::unique_ptr<EngineCore> core;  // built when the actor starts (CAF default-constructs the state)
  std::vector<rank_actor> ranks;
  std::unordered_map<OwnerId, request_actor> owners;
  caf::duration step_timeout;
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

// Sends steps while the core plans them: with async scheduling (two steps in flight) step N+1 is planned
// and queued at the ranks while they run step N, so its planning costs the model no time.
void maybe_step(SchedulerSelf self) {
  auto& st = self->state;
  for (;;) {
    CoreOutput out;
    std::optional<PlannedStep> step = st.core->plan_step(out);
    deliver(self, out);
    if (!step) return;
    for (size_t r = 0; r < st.ranks.size(); ++r) {
      const auto rank = static_cast<int32_t>(r);
      self->request(st.ranks[r], st.step_timeout, execute_atom::value, *step->input)
          .then(
              [self, id = step->id, rank](StepOutput& output) {
                CoreOutput out;
                self->state.core->on_rank_output(id, rank, std::move(output), out);
                deliver(self, out);
                maybe_step(self);
              },
              [self, id = step->id, rank](caf::error& error) {
                CoreOutput out;
                const bool first_failure = !self->state.core->failed();
                self->state.core->on_rank_failure(id, rank, self->system().render(error), out);
                if (first_failure && self->state.abort_collectives) self->state.abort_collectives();
                deliver(self, out);
              });
    }
  }
}

scheduler_actor::behavior_type scheduler_behavior(SchedulerSelf self, EngineCoreOptions options,
                                                  std::vector<rank_actor> ranks,
                                                  std::function<void()> abort_collectives) {
  auto& st = self->state;
  st.abort_collectives = std::move(abort_collectives);
  st.step_timeout = caf::duration{std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(options.scheduler.step_timeout_seconds))};
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
  };
}

}  // namespace

scheduler_actor spawn_scheduler(caf::actor_system& system, EngineCoreOptions options, std::vector<rank_actor> ranks,
                                std::function<void()> abort_collectives) {
  return system.spawn(scheduler_behavior, std::move(options), std::move(ranks), std::move(abort_collectives));
}

}  // namespace sabre
