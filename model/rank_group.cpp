#include "model/rank_group.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "model/draft_model.hpp"
#include "model/gpu_memory_plan.hpp"
#include "kernels/backend_factory.hpp"
#include "model/profile_step.hpp"
#include "model/tensor_parallel.hpp"

namespace sabre {
namespace {

// A rank's backend and its model, kept together so the model's reference to its backend stays valid.
struct LoadedRank {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Transformer> model;
  std::unique_ptr<Transformer> draft;  // speculative decoding's draft model, on rank 0 only
};

// The blocks a GPU rank's memory can hold after a profiling step at the largest batch (collective on a
// sharded model: every rank runs it at once). nullopt on the CPU, whose budget is in bytes.
// A draft model on the rank adds its weights and its part of every block.
std::optional<int64_t> gpu_kv_blocks(const EngineOptions& options, Transformer& model, const Transformer* draft,
                                     ElementType kv_dtype, int64_t blocks_per_sequence) {
  Backend& backend = model.backend();
  const auto before = backend.device_memory();
  if (!before) return std::nullopt;
  GpuMemoryFigures figures;
  figures.total = before->total;
  figures.weights = model.weights().bytes() + (draft ? draft->weights().bytes() : 0);
  figures.free_before_profile = before->free;
  run_profile_step(model);
  figures.free_after_profile = backend.device_memory()->free;
  const size_t block_bytes = model.kv_block_bytes(options.cache.block_size, kv_dtype) +
                             (draft ? draft->kv_block_bytes(options.cache.block_size, kv_dtype) : 0);
  const KvCachePlan plan = plan_gpu_kv_cache(figures, options.cache.gpu_memory_utilization, block_bytes,
                                             options.cache.block_size, blocks_per_sequence);
  spdlog::info("rank {}: {}", model.shard().rank, plan.summary);
  return plan.num_blocks;
}

// Collects the ranks' communicators as they join, so that one rank's failure can release the others
// from a rendezvous or a collective they wait in; keeps the first failure, the cause of the others.
class GroupLoad {
 public:
  explicit GroupLoad(std::shared_ptr<RendezvousStore> store) : store_(std::move(store)) {}

  void joined(Communicator* communicator) {
    std::lock_guard lock(mutex_);
    communicators_.push_back(communicator);
    if (first_error_) communicator->abort();
  }
  void left(Communicator* communicator) {
    std::lock_guard lock(mutex_);
    std::erase(communicators_, communicator);
  }
  void failed(int rank, std::exception_ptr error) {
    std::lock_guard lock(mutex_);
    if (first_error_) return;
    first_error_ = error;
    first_rank_ = rank;
    store_->cancel(fmt::format("rank {} could not load", rank));
    for (Communicator* c : communicators_) c->abort();
  }
  void rethrow_first() const {
    if (!first_error_) return;
    try {
      std::rethrow_exception(first_error_);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("tensor-parallel rank {} of {}: {}", first_rank_, size_, e.what()));
    }
  }
  int size_ = 1;

 private:
  std::shared_ptr<RendezvousStore> store_;
  std::mutex mutex_;
  std::vector<Communicator*> communicators_;
  std::exception_ptr first_error_;
  int first_rank_ = 0;
};

}  // namespace

void RankGroup::abort_collectives() const {
  for (const auto& model : models) {
    if (Communicator* c = model->communicator()) c->abort();
  }
}

RankGroup load_rank_group(const EngineOptions& options, const Checkpoint& checkpoint, const StepLimits& limits,
                          int64_t blocks_per_sequence, GroupPlacement placement) {
  const int size = static_cast<int>(options.parallel.tensor_parallel_size);
  if (size < 1) throw std::runtime_error(fmt::format("--tensor-parallel-size {} must be at least 1", size));
  try {
    plan_shard(checkpoint.config, 0, size);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  const int local = placement.local_ranks > 0 ? placement.local_ranks : size;
  const int first = placement.first_rank;
  if (first < 0 || first + local > size) {
    throw std::runtime_error(fmt::format("ranks {}..{} are not in a group of {}", first, first + local - 1, size));
  }

  // Backends first, one by one: a missing GPU is an error before any rank waits for another.
  std::vector<LoadedRank> ranks(static_cast<size_t>(local));
  for (int i = 0; i < local; ++i) {
    ranks[static_cast<size_t>(i)].backend =
        make_backend(options.device, options.weights.dtype, checkpoint.config.torch_dtype, {i, local});
  }
  const ElementType kv_dtype = kv_element_type(options.cache.kv_cache_dtype, ranks[0].backend->activation_type());

  auto store = placement.store ? placement.store : make_local_store();
  GroupLoad load(store);
  load.size_ = size;
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::duration<double>(options.scheduler.step_timeout_seconds));
  std::vector<std::optional<int64_t>> gpu_blocks(static_cast<size_t>(local));
  const auto load_rank = [&](int i) {
    LoadedRank& rank = ranks[static_cast<size_t>(i)];
    const int r = first + i;
    std::unique_ptr<Communicator> communicator;
    try {
      if (size > 1) {
        communicator =
            rank.backend->create_communicator({r, size, store, placement.group, placement.hostname, timeout});
        load.joined(communicator.get());
      }
      Communicator* joined = communicator.get();
      try {
        rank.model = std::make_unique<Transformer>(checkpoint.config, *checkpoint.weights, *rank.backend, limits,
                                                   options.weights, std::move(communicator));
      } catch (...) {
        if (joined) load.left(joined);  // destroyed with the half-built model
        throw;
      }
      if (r == 0 && options.speculative.drafts_with_model()) {
        WeightOptions draft_weights = options.weights;
        draft_weights.gguf = options.speculative.draft_gguf;
        rank.draft = load_draft_model(options.speculative.draft_model, draft_weights, checkpoint.config.vocab_size,
                                      *rank.backend, limits);
      }
      if (options.cache.num_kv_blocks <= 0) {
        gpu_blocks[static_cast<size_t>(i)] =
            gpu_kv_blocks(options, *rank.model, rank.draft.get(), kv_dtype, blocks_per_sequence);
      }
    } catch (...) {
      load.failed(r, std::current_exception());
    }
  };
  if (local == 1) {
    load_rank(0);
  } else {
    std::vector<std::thread> threads;
    for (int i = 0; i < local; ++i) threads.emplace_back(load_rank, i);
    for (auto& t : threads) t.join();
  }
  load.rethrow_first();

  RankGroup group;
  group.kv_dtype = kv_dtype;
  for (LoadedRank& rank : ranks) {
    group.kv_block_bytes += rank.model->kv_block_bytes(options.cache.block_size, kv_dtype);
    if (rank.draft) group.draft_kv_block_bytes = rank.draft->kv_block_bytes(options.cache.block_size, kv_dtype);
    auto owner = std::make_shared<LoadedRank>(std::move(rank));
    group.models.emplace_back(owner, owner->model.get());
    if (owner->draft) group.draft = std::shared_ptr<Transformer>(owner, owner->draft.get());
  }
  if (options.cache.num_kv_blocks > 0) {
    group.num_kv_blocks = options.cache.num_kv_blocks;
  } else if (gpu_blocks[0]) {
    // Every rank holds its part of every block: the pool is what the fullest GPU leaves room for.
    group.num_kv_blocks = **std::min_element(gpu_blocks.begin(), gpu_blocks.end());
  } else {
    // CPU ranks share the host's memory: the budget covers every local rank's part of a block.
    group.num_kv_blocks =
        options.cache.kv_cache_bytes / static_cast<int64_t>(group.kv_block_bytes + group.draft_kv_block_bytes);
  }
  return group;
}

}  // namespace sabre
