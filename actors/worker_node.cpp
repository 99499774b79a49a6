#include "actors/worker_node.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <optional>

#include "actors/coordinator.hpp"
#include "actors/rank_actor.hpp"
#include "model/checkpoint.hpp"
#include "model/served_model.hpp"
#include "model/rank_group.hpp"

namespace sabre {
namespace {

struct WorkerNodeState {
  // Not an aggregate, so CAF constructs it empty rather than from the actor pointer.
  WorkerNodeState() = default;
  static inline const char* name = "sabre.worker";
  WorkerNodeOptions options;
  std::shared_ptr<CoordinatorStore> store;
  std::optional<WorkerPlan> plan;
  std::shared_ptr<RankGroup> group;
  std::vector<rank_actor> ranks;
  std::shared_ptr<structured::GuidedCompiler> guided;  // null: the model has no tokenizer
};

using WorkerSelf = worker_actor::stateful_pointer<WorkerNodeState>;

// The ranks of an earlier launch go before new ones load (on a GPU they hold its memory).
void drop_ranks(WorkerSelf self) {
  auto& st = self->state;
  if (st.group) st.group->abort_collectives();
  for (const rank_actor& rank : st.ranks) self->send_exit(rank, caf::exit_reason::user_shutdown);
  st.ranks.clear();
  st.group.reset();
}

worker_actor::behavior_type worker_behavior(WorkerSelf self, WorkerNodeOptions options) {
  auto& st = self->state;
  st.options = std::move(options);
  st.store = std::make_shared<CoordinatorStore>(self->system(), st.options.coordinator);
  self->monitor(st.options.coordinator);
  self->set_down_handler([self](caf::down_msg& msg) {
    if (msg.source != self->state.options.coordinator.address()) return;
    spdlog::warn("worker node {}: the engine is gone ({}); stopping", self->state.options.node,
                 self->system().render(msg.reason));
    drop_ranks(self);
    self->quit();
  });
  return {
      [self](load_atom, const WorkerPlan& plan) -> caf::result<int64_t> {
        auto& st = self->state;
        drop_ranks(self);
        try {
          const EngineOptions options = options_from_plan(plan, st.options.local);
          Checkpoint checkpoint = open_checkpoint(options.model, options.weights.load_format);
          // Guided decoding compiles against the vocabulary here too (constraints travel as their text).
          st.guided = describe_served_model(checkpoint, options.tokenizer).guided;
          GroupPlacement placement;
          placement.first_rank = plan.first_rank;
          placement.local_ranks = plan.local_ranks;
          placement.store = st.store;
          placement.hostname = options.parallel.rank_host.empty() ? "127.0.0.1" : options.parallel.rank_host;
          placement.group = plan.group;
          st.group = std::make_shared<RankGroup>(
              load_rank_group(options, checkpoint, limits_from_plan(plan), plan.blocks_per_sequence, placement));
          // Checked once the ranks have joined their group, so that the engine's own ranks are not left
          // waiting for them and the engine hears this reason rather than a rendezvous timeout.
          if (plan.needs_tokenizer && !st.guided) {
            st.group.reset();
            throw std::runtime_error(fmt::format(
                "the engine serves guided decoding, which every node's ranks compile against the tokenizer, and "
                "{} has no tokenizer.json: give this node the model with its tokenizer, or --tokenizer DIR",
                options.model.string()));
          }
          st.plan = plan;
          spdlog::info("worker node {}: ranks {}..{} of {} loaded; {} KV blocks fit", st.options.node, plan.first_rank,
                       plan.first_rank + plan.local_ranks - 1, plan.world_size, st.group->num_kv_blocks);
          return st.group->num_kv_blocks;
        } catch (const std::exception& e) {
          spdlog::error("worker node {}: loading failed: {}", st.options.node, e.what());
          st.group.reset();
          return caf::make_error(caf::sec::runtime_error, fmt::format("worker node {}: {}", st.options.node, e.what()));
        }
      },
      [self](start_atom, int64_t num_blocks) -> caf::result<std::vector<rank_actor>> {
        auto& st = self->state;
        if (!st.group || !st.plan) {
          return caf::make_error(caf::sec::runtime_error,
                                 fmt::format("worker node {}: start before a successful load", st.options.node));
        }
        for (int i = 0; i < st.group->local_ranks(); ++i) {
          const int32_t rank = st.plan->first_rank + i;
          RankOptions rank_settings =
              rank_options(rank, num_blocks, st.plan->block_size, st.group->kv_dtype, st.plan->launch);
          rank_settings.guided = st.guided;
          st.ranks.push_back(spawn_rank(self->system(), st.group->models[static_cast<size_t>(i)], rank_settings));
        }
        return st.ranks;
      },
      [self](abort_atom) {
        if (self->state.group) self->state.group->abort_collectives();
      },
  };
}

}  // namespace

worker_actor spawn_worker_node(caf::actor_system& system, WorkerNodeOptions options) {
  return system.spawn<caf::detached>(worker_behavior, std::move(options));
}

}  // namespace sabre
