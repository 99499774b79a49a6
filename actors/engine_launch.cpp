#include "actors/engine_launch.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <stdexcept>

#include "actors/coordinator.hpp"
#include "actors/engine_core.hpp"
#include "actors/rank_actor.hpp"
#include "actors/scheduler_actor.hpp"
#include "model/rank_group.hpp"

namespace sabre {
namespace {

// What one step of this engine can hold: the scheduler's token budget and running sequences, one
// logits row per sequence (and the rows of speculative decodes' proposals and of prompts being scored),
// and a block table as long as max_model_len.
StepLimits step_limits(const SchedulerConfig& scheduler, const CacheConfig& cache,
                       const SpeculativeConfig& speculative) {
  StepLimits limits;
  limits.max_tokens = scheduler.max_num_batched_tokens;
  limits.max_sequences = scheduler.max_num_seqs;
  limits.max_logit_rows = scheduler.max_num_seqs + scheduler.max_prompt_logprob_rows +
                          (speculative.enabled() ? speculative.max_rows : 0);
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

}  // namespace

std::string served_model_name(const EngineOptions& options) {
  return options.served_model_name.empty() ? options.model.filename().string() : options.served_model_name;
}

namespace {

// Where this process's ranks listen for their peers: --rank-host, else the host of --dist-init-addr.
std::string local_rank_host(const ParallelConfig& parallel) {
  if (!parallel.rank_host.empty()) return parallel.rank_host;
  if (parallel.nnodes > 1) return parse_host_port(parallel.dist_init_addr, "--dist-init-addr").first;
  return "127.0.0.1";
}

// Asks every worker to load its ranks, loads this process's meanwhile, and returns the pool size every
// node can hold. A failure anywhere aborts the workers' ranks and throws.
int64_t load_all_nodes(caf::actor_system& system, const RemoteNodes& remote, const std::vector<worker_actor>& workers,
                       const EngineOptions& options, int launch, const StepLimits& limits,
                       int64_t blocks_per_sequence, bool needs_tokenizer, const std::function<int64_t()>& load_local) {
  caf::scoped_actor self{system};
  const caf::duration timeout{std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(options.scheduler.step_timeout_seconds))};
  using LoadReply = decltype(self->request(workers.front(), timeout, load_atom::value, WorkerPlan{}));
  std::vector<LoadReply> replies;
  for (size_t k = 0; k < workers.size(); ++k) {
    WorkerPlan plan = make_worker_plan(options, static_cast<int32_t>(k + 1), launch, limits, blocks_per_sequence);
    plan.needs_tokenizer = needs_tokenizer;
    replies.push_back(self->request(workers[k], timeout, load_atom::value, plan));
  }
  std::string local_error, error;
  int64_t capacity = 0;
  try {
    capacity = load_local();
  } catch (const std::exception& e) {
    local_error = e.what();
  }
  // A worker's own reason comes first: the local ranks' failure is often only its consequence.
  for (size_t k = 0; k < replies.size(); ++k) {
    replies[k].receive([&](int64_t blocks) { capacity = std::min(capacity, blocks); },
                       [&](caf::error& e) {
                         if (error.empty()) error = fmt::format("node {}: {}", k + 1, system.render(e));
                       });
  }
  if (error.empty()) error = local_error;
  if (!error.empty()) {
    for (const worker_actor& worker : workers) self->send(worker, abort_atom::value);
    throw std::runtime_error(error);
  }
  (void)remote;
  return capacity;
}

std::vector<rank_actor> start_workers(caf::actor_system& system, const std::vector<worker_actor>& workers,
                                      int64_t num_blocks) {
  caf::scoped_actor self{system};
  std::vector<rank_actor> ranks;
  for (size_t k = 0; k < workers.size(); ++k) {
    std::string error;
    self->request(workers[k], std::chrono::seconds(60), start_atom::value, num_blocks)
        .receive([&](std::vector<rank_actor>& r) { ranks.insert(ranks.end(), r.begin(), r.end()); },
                 [&](caf::error& e) { error = system.render(e); });
    if (!error.empty()) throw std::runtime_error(fmt::format("starting node {}'s ranks: {}", k + 1, error));
  }
  return ranks;
}

// Speculative decoding's settings in the engine core: prompt lookup, or a draft model on rank 0 (loaded
// with the group). Throws std::runtime_error for a draft that cannot serve max_model_len.
void configure_speculation(const SpeculativeConfig& speculative, const RankGroup& group, EngineCoreOptions& core) {
  if (!speculative.enabled()) return;
  if (speculative.num_steps < 1) {
    throw std::runtime_error(fmt::format("--speculative-steps {} must be at least 1", speculative.num_steps));
  }
  core.speculative_steps = static_cast<int32_t>(speculative.num_steps);
  core.speculative_max_rows = static_cast<int32_t>(speculative.max_rows);
  core.speculative_disable_above = static_cast<int32_t>(speculative.disable_by_batch_size);
  if (speculative.method == "ngram") {
    spdlog::info("engine: speculative decoding by prompt lookup, up to {} proposed tokens per decode", speculative.num_steps);
    return;
  }
  if (!speculative.drafts_with_model()) {
    throw std::runtime_error(fmt::format("unknown --speculative-method '{}' (draft or ngram)", speculative.method));
  }
  if (speculative.draft_model.empty()) throw std::runtime_error("--speculative-method draft needs --draft-model PATH");
  core.draft_on_rank = true;
  if (group.draft && group.draft->config().max_position_embeddings < core.scheduler.max_model_len) {
    throw std::runtime_error(fmt::format("the draft model's context of {} tokens is shorter than max_model_len {}; "
                                         "lower --max-model-len",
                                         group.draft->config().max_position_embeddings, core.scheduler.max_model_len));
  }
}

}  // namespace

LaunchedEngine launch_engine(caf::actor_system& system, const EngineOptions& options, Checkpoint& checkpoint,
                             std::shared_ptr<EngineMetrics> metrics, int launch, const RemoteNodes* remote,
                             std::shared_ptr<structured::GuidedCompiler> guided) {
  if (options.cache.block_size <= 0) {
    throw std::runtime_error(fmt::format("block size {} must be positive", options.cache.block_size));
  }
  const ParallelConfig& parallel = options.parallel;
  const bool multi_node = parallel.nnodes > 1;
  if (multi_node && remote == nullptr) throw std::logic_error("launch_engine: several nodes but no coordinator");
  EngineCoreOptions core;
  core.scheduler = options.scheduler;
  core.scheduler.max_model_len = resolved_max_model_len(options.scheduler, checkpoint.config);

  const int64_t blocks_per_sequence =
      (core.scheduler.max_model_len + options.cache.block_size - 1) / options.cache.block_size;
  const StepLimits limits = step_limits(core.scheduler, options.cache, options.speculative);
  GroupPlacement placement;
  placement.local_ranks = static_cast<int>(parallel.ranks_per_node());
  placement.hostname = local_rank_host(parallel);
  placement.group = fmt::format("tp-launch-{}", launch);
  std::vector<worker_actor> workers;
  if (multi_node) {
    placement.store = remote->store;
    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::duration<double>(options.scheduler.step_timeout_seconds));
    spdlog::info("engine: waiting for {} sabre-worker node(s) at {}", parallel.nnodes - 1, parallel.dist_init_addr);
    workers = wait_for_workers(system, remote->coordinator, static_cast<int32_t>(parallel.nnodes), timeout);
  }
  RankGroup group;
  const auto load_local = [&] {
    group = load_rank_group(options, checkpoint, limits, blocks_per_sequence, placement);
    return group.num_kv_blocks;
  };
  const int64_t num_blocks = multi_node ? load_all_nodes(system, *remote, workers, options, launch, limits,
                                                         blocks_per_sequence, guided != nullptr, load_local)
                                        : load_local();
  checkpoint.weights.reset();  // the backends hold the weights now: the mapped files can go
  const auto abort_workers = [&system, workers] {
    for (const worker_actor& worker : workers) caf::anon_send(worker, abort_atom::value);
  };
  if (num_blocks < blocks_per_sequence) {
    abort_workers();
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
  configure_speculation(options.speculative, group, core);
  spdlog::info("engine: {} ({} layers) on {} rank{} ({} node{}), {} KV blocks of {} tokens in {} ({:.1f} MiB here), "
               "max_model_len {}, batch budget {} tokens",
               core.model_name, checkpoint.config.num_hidden_layers, parallel.tensor_parallel_size,
               parallel.tensor_parallel_size == 1 ? "" : "s", parallel.nnodes, parallel.nnodes == 1 ? "" : "s",
               num_blocks, options.cache.block_size, element_type_name(group.kv_dtype),
               static_cast<double>(num_blocks) * static_cast<double>(group.kv_block_bytes) / (1 << 20),
               core.scheduler.max_model_len, core.scheduler.max_num_batched_tokens);
  if (group.draft) {
    spdlog::info("engine: draft model {} ({} layers, {:.1f} MiB of weights) on rank 0, proposing up to {} tokens per "
                 "decode; its KV takes {:.1f} MiB of the same {} blocks",
                 options.speculative.draft_model.string(), group.draft->config().num_hidden_layers,
                 static_cast<double>(group.draft->weights().bytes()) / (1 << 20), options.speculative.num_steps,
                 static_cast<double>(num_blocks) * static_cast<double>(group.draft_kv_block_bytes) / (1 << 20),
                 num_blocks);
  }

  LaunchedEngine launched;
  launched.limits = {checkpoint.config.vocab_size, core.scheduler.max_model_len, core.scheduler.max_num_seqs,
                     options.cache.block_size, num_blocks, guided};
  std::vector<rank_actor> ranks;
  for (int32_t r = 0; r < group.local_ranks(); ++r) {
    RankOptions rank = rank_options(r, num_blocks, options.cache.block_size, group.kv_dtype, launch);
    rank.guided = guided;
    ranks.push_back(spawn_rank(system, group.models[static_cast<size_t>(r)], rank, r == 0 ? group.draft : nullptr));
    launched.models.push_back(group.models[static_cast<size_t>(r)]);
  }
  if (group.draft) launched.models.push_back(group.draft);
  if (multi_node) {
    const std::vector<rank_actor> remote_ranks = start_workers(system, workers, num_blocks);
    ranks.insert(ranks.end(), remote_ranks.begin(), remote_ranks.end());
  }
  // A rank that fails or stops answering has its peers' collectives aborted, here and on the workers,
  // so none waits on it.
  auto shared_group = std::make_shared<const RankGroup>(std::move(group));
  launched.scheduler = spawn_scheduler(system, std::move(core), std::move(ranks), [shared_group, abort_workers] {
    shared_group->abort_collectives();
    abort_workers();
  });
  return launched;
}

}  // namespace sabre
