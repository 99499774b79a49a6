#include "actors/rank_actor.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <optional>

#include "actors/step_executor.hpp"

namespace sabre {
namespace {

struct RankState {
  // Not an aggregate, so CAF constructs it empty rather than from the actor pointer.
  RankState() = default;
  static inline const char* name = "sabre.rank";
  std::shared_ptr<Transformer> model;
  std::optional<StepExecutor> executor;
  int64_t rank = 0;
  int64_t steps = 0;
  int64_t fail_at_step = 0;
};

rank_actor::behavior_type rank_behavior(rank_actor::stateful_pointer<RankState> self,
                                        std::shared_ptr<Transformer> model, RankOptions options) {
  self->state.model = std::move(model);
  self->state.rank = options.rank;
  self->state.fail_at_step = options.fail_at_step;
  self->state.executor.emplace(*self->state.model, options.num_kv_blocks, options.block_size, options.kv_dtype);
  spdlog::debug("rank {}: {} KV blocks of {} tokens in {}", options.rank, options.num_kv_blocks, options.block_size,
                element_type_name(options.kv_dtype));
  return {
      [self](execute_atom, const StepInput& input) -> caf::result<StepOutput> {
        try {
          if (++self->state.steps == self->state.fail_at_step) {
            throw std::runtime_error(fmt::format("fault injected at step {} (SABRE_FAULT_INJECT_RANK_STEP)",
                                                 self->state.steps));
          }
          StepOutput output = self->state.executor->execute(input);
          output.finished_at = EngineClock::now();
          return output;
        } catch (const std::exception& e) {
          spdlog::error("rank {}: step failed: {}", self->state.rank, e.what());
          // Peers waiting on this rank in a collective fail at once instead of waiting out the timeout.
          if (Communicator* communicator = self->state.model->communicator()) communicator->abort();
          return caf::make_error(caf::sec::runtime_error, fmt::format("rank {}: {}", self->state.rank, e.what()));
        }
      },
  };
}

}  // namespace

rank_actor spawn_rank(caf::actor_system& system, std::shared_ptr<Transformer> model, RankOptions options) {
  return system.spawn<caf::detached>(rank_behavior, std::move(model), options);
}

}  // namespace sabre
