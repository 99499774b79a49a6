#include "actors/engine_launch.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <stdexcept>

#include "actors/rank_actor.hpp"
#include "model/rank_group.hpp"
#include "actors/scheduler_actor.hpp"

namespace sabre {
namespace {

// What one step of this engine can hold: the scheduler's token budget and running sequences, one
// logits row per sequence, and a block table as long as max_model_len.
StepLimits step_limits(const SchedulerConfig& scheduler, const CacheConfig& cache) {
  StepLimits limits;
  limits.max_tokens = scheduler.max_num_batched_tokens;
  limits.max_sequences = scheduler.max_num_seqs;
  limits.max_logit_rows = scheduler.max_num_seqs;
  limits.max_blocks_per_sequence = (scheduler.max_model_len + cache.block_size - 1) / cache.block_size;
  return limits;
}

int64_t resolved_max_model_len(const SchedulerConfig& scheduler, const ModelConfig& config) {
  if (scheduler.max_model_len <= 0) return config.max_position_embeddings;
  if (scheduler.max_model_len > config.max_position_embeddings) {
    throw std::runtime_error(fmt::format("max_model_len {} exceeds the model's context of {} tokens",
                                         scheduler.max_model_len, config.max_position_embeddings));
  }
  return scheduler.max_model_len;
}

// SABRE_FAULT_INJECT_RANK_STEP=STEP or RANK:STEP makes that rank (0 by default) fail its step STEP, for
// the tests of what the engine does when a rank fails; a restarted engine runs clean.
RankOptions rank_options(int32_t rank, const RankGroup& group, int32_t block_size, int launch) {
  RankOptions options{rank, group.num_kv_blocks, block_size, group.kv_dtype};
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

}  // namespace

std::string served_model_name(const EngineOptions& options) {
  return options.served_model_name.empty() ? options.model.filename().string() : options.served_model_name;
}

LaunchedEngine launch_engine(caf::actor_system& system, const EngineOptions& options, Checkpoint& checkpoint,
                             std::shared_ptr<EngineMetrics> metrics, int launch) {
  if (options.cache.block_size <= 0) {
    throw std::runtime_error(fmt::format("block size {} must be positive", options.cache.block_size));
  }
  EngineCoreOptions core;
  core.scheduler = options.scheduler;
  core.scheduler.max_model_len = resolved_max_model_len(options.scheduler, checkpoint.config);

  const int64_t blocks_per_sequence =
      (core.scheduler.max_model_len + options.cache.block_size - 1) / options.cache.block_size;
  RankGroup group =
      load_rank_group(options, checkpoint, step_limits(core.scheduler, options.cache), blocks_per_sequence);
  checkpoint.weights.reset();  // the backends hold the weights now: the mapped files can go
  const int64_t num_blocks = group.num_kv_blocks;
  if (num_blocks < blocks_per_sequence) {
    throw std::runtime_error(fmt::format(
        "the KV cache holds {} blocks of {} tokens, fewer than one sequence of max_model_len {} needs ({}); "
        "give it more memory or lower max_model_len",
        num_blocks, options.cache.block_size, core.scheduler.max_model_len, blocks_per_sequence));
  }
  core.blocks.block_size = options.cache.block_size;
  core.blocks.num_blocks = static_cast<int32_t>(num_blocks);
  core.blocks.enable_prefix_caching = options.cache.enable_prefix_caching;
  core.model_name = served_model_name(options);
  core.vocab_size = checkpoint.config.vocab_size;
  core.metrics = std::move(metrics);
  spdlog::info("engine: {} ({} layers) on {} rank{}, {} KV blocks of {} tokens in {} ({:.1f} MiB), max_model_len {}, "
               "batch budget {} tokens",
               core.model_name, checkpoint.config.num_hidden_layers, group.world_size(),
               group.world_size() == 1 ? "" : "s", num_blocks, options.cache.block_size,
               element_type_name(group.kv_dtype),
               static_cast<double>(num_blocks) * static_cast<double>(group.kv_block_bytes) / (1 << 20),
               core.scheduler.max_model_len, core.scheduler.max_num_batched_tokens);

  LaunchedEngine launched;
  launched.limits = {checkpoint.config.vocab_size, core.scheduler.max_model_len, core.scheduler.max_num_seqs,
                     options.cache.block_size, num_blocks};
  std::vector<rank_actor> ranks;
  for (int32_t r = 0; r < group.world_size(); ++r) {
    ranks.push_back(spawn_rank(system, group.models[static_cast<size_t>(r)],
                               rank_options(r, group, options.cache.block_size, launch)));
    launched.models.push_back(group.models[static_cast<size_t>(r)]);
  }
  // A rank that fails or stops answering has its peers' collectives aborted, so none waits on it.
  auto shared_group = std::make_shared<const RankGroup>(std::move(group));
  launched.scheduler = spawn_scheduler(system, std::move(core), std::move(ranks),
                                       [shared_group] { shared_group->abort_collectives(); });
  return launched;
}

}  // namespace sabre
