#include "actors/rank_actor.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <exception>
#include <string>
#include <optional>

#include "actors/step_executor.hpp"

namespace sabre {
namespace {

struct RankState {
  // Not an aggregate, so CAF constructs it empty rather than from the actor pointer.
  RankState() = default;
  static inline const char* name = "sabre.rank";
  std::shared_ptr<Transformer> model;
  std::shared_ptr<Transformer> draft;
  std::optional<StepExecutor> executor;
  int64_t rank = 0;
  int64_t steps = 0;
  int64_t fail_at_step = 0;
};

rank_actor::behavior_type rank_behavior(rank_actor::stateful_pointer<RankState> self,
                                        std::shared_ptr<Transformer> model, RankOptions options,
                                        std::shared_ptr<Transformer> draft) {
  self->state.model = std::move(model);
  self->state.draft = std::move(draft);
  self->state.rank = options.rank;
  self->state.fail_at_step = options.fail_at_step;
  self->state.executor.emplace(*self->state.model, options.num_kv_blocks, options.block_size, options.kv_dtype,
                               self->state.draft.get(), options.guided);
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
        } catch (const CollectiveError& e) {
          spdlog::warn("rank {}: step failed in a collective: {}", self->state.rank, e.what());
          if (Communicator* communicator = self->state.model->communicator()) communicator->abort();
          return caf::make_error(caf::sec::runtime_error,
                                 fmt::format("{}rank {}: {}", kCollectiveFailure, self->state.rank, e.what()));
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

RankOptions rank_options(int32_t rank, int64_t num_blocks, int64_t block_size, ElementType kv_dtype, int launch) {
  RankOptions options;
  options.rank = rank;
  options.num_kv_blocks = num_blocks;
  options.block_size = block_size;
  options.kv_dtype = kv_dtype;
  const char* fault = launch == 0 ? std::getenv("SABRE_FAULT_INJECT_RANK_STEP") : nullptr;
  if (fault != nullptr) {
    const std::string spec = fault;
    const auto colon = spec.find(':');
    const int64_t faulty_rank = colon == std::string::npos ? 0 : std::strtoll(spec.c_str(), nullptr, 10);
    const int64_t step = std::strtoll(spec.c_str() + (colon == std::string::npos ? 0 : colon + 1), nullptr, 10);
    if (faulty_rank == rank) {
      options.fail_at_step = step;
      spdlog::warn("fault injection: rank {} fails its step {} (SABRE_FAULT_INJECT_RANK_STEP)", rank, step);
    }
  }
  return options;
}

rank_actor spawn_rank(caf::actor_system& system, std::shared_ptr<Transformer> model, RankOptions options,
                      std::shared_ptr<Transformer> draft) {
  return system.spawn<caf::detached>(rank_behavior, std::move(model), options, std::move(draft));
}

}  // namespace sabre
