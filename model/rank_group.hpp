#pragma once
// The ranks of one tensor-parallel group of this process, loaded together: one backend per rank (CPU
// threads shared out, or GPU `rank`), the group's communicator (Gloo or NCCL, joined through an
// in-process rendezvous), and each rank's shard of the model read from the one opened checkpoint
// (model/tensor_parallel.hpp). Loading runs on one thread per rank, since joining the group and the
// GPU's profiling step are collective. One block pool serves the scheduler: each rank holds its kv
// heads' part of every block, so the pool has as many blocks as the tightest rank can hold.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/engine_options.hpp"
#include "kernels/step.hpp"
#include "model/checkpoint.hpp"
#include "model/transformer.hpp"

namespace sabre {

// Which ranks of the group this process loads, and how they meet the others.
struct GroupPlacement {
  int first_rank = 0;   // this process's ranks are first_rank .. first_rank + local_ranks - 1
  int local_ranks = 0;  // 0: every rank of options.parallel.tensor_parallel_size
  // Where the ranks find each other; null: an in-process store (every rank is here).
  std::shared_ptr<RendezvousStore> store;
  std::string hostname = "127.0.0.1";  // the address this process's ranks listen on for their peers
  std::string group = "tp";            // the store's key prefix: a new one for each launch on a shared store
};

struct RankGroup {
  // This process's ranks, in rank order. Each model keeps its backend (and its communicator) alive.
  std::vector<std::shared_ptr<Transformer>> models;
  // The blocks this process's ranks can each hold (the pool is the smallest over all processes).
  int64_t num_kv_blocks = 0;
  ElementType kv_dtype = ElementType::f32;
  size_t kv_block_bytes = 0;  // one block over this process's ranks
  // Speculative decoding's draft model (options.speculative), on global rank 0's backend when this
  // process holds rank 0, and its part of every block (the pool is sized for both).
  std::shared_ptr<Transformer> draft;
  size_t draft_kv_block_bytes = 0;

  int local_ranks() const { return static_cast<int>(models.size()); }
  // Fails every collective of every rank now or to come, from any thread (see Communicator::abort):
  // what the engine does when a rank fails or stops answering, so that no rank waits on it for ever.
  void abort_collectives() const;
};

// Loads this process's ranks (`placement`) of a group of options.parallel.tensor_parallel_size ranks of
// `checkpoint`: local rank i on GPU i, or with the CPU threads shared out among the local ranks.
// `blocks_per_sequence` is one max_model_len sequence's blocks (the GPU memory plan's floor). Throws
// std::runtime_error with the numbers when the model does not divide among the ranks or there are fewer
// GPUs than local ranks, and the first rank's error when a rank cannot load (the others are released,
// not left waiting).
RankGroup load_rank_group(const EngineOptions& options, const Checkpoint& checkpoint, const StepLimits& limits,
                          int64_t blocks_per_sequence, GroupPlacement placement = {});

}  // namespace sabre
