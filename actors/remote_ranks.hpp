#pragma once
// Ranks in other processes (sabre-worker), reached through CAF's network layer. The engine's process
// publishes a coordinator actor at --dist-init-addr; each worker connects, joins with its node rank and
// its worker actor, and for every launch of the engine:
//   1. the engine sends each worker a WorkerPlan (load_atom): the worker loads its ranks of the group
//      (the rendezvous of their collectives goes through the coordinator's key-value store) and replies
//      the KV blocks each of its ranks can hold;
//   2. the engine takes the smallest capacity over all nodes and sends it (start_atom): the worker
//      spawns its rank actors on that pool size and replies their handles, which the scheduler then
//      treats like its own ranks (links included: a worker that is lost fails the engine);
//   3. when a rank fails the engine sends abort_atom, and the worker aborts its ranks' collectives.
// The steps and their results cross with the inspect() overloads of actors/internal_messages.hpp.

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "actors/internal_messages.hpp"
#include "actors/messages.hpp"
#include "config/engine_options.hpp"
#include "kernels/step.hpp"

namespace sabre {

using load_atom = caf::atom_constant<caf::atom("load")>;
using start_atom = caf::atom_constant<caf::atom("start")>;
using join_node_atom = caf::atom_constant<caf::atom("joinnode")>;
using store_set_atom = caf::atom_constant<caf::atom("storeset")>;
using store_get_atom = caf::atom_constant<caf::atom("storeget")>;
using nodes_atom = caf::atom_constant<caf::atom("nodes")>;

// What a worker needs to load its ranks the way the engine's own are loaded: everything but the model's
// path, the device and the threads, which are the worker's (its command line).
struct WorkerPlan {
  int32_t world_size = 1;
  int32_t first_rank = 0;
  int32_t local_ranks = 1;
  std::string group;  // the store's key prefix of this launch
  int32_t launch = 0;
  // WeightOptions
  int32_t dtype = 0;        // ModelDtype
  int32_t gguf = 0;         // GgufWeights
  int32_t load_format = 0;  // LoadFormat
  // CacheConfig
  int64_t block_size = 16;
  int32_t kv_cache_dtype = 0;  // KvCacheDtype
  int64_t num_kv_blocks = 0;
  double gpu_memory_utilization = 0.85;
  int64_t kv_cache_bytes = 0;
  // DeviceOptions the engine fixes for every rank
  std::string device;
  bool batch_invariant = false;
  bool exact_kernels = false;
  bool enable_cuda_graph = true;
  int64_t cuda_graph_max_batch_size = 0;
  // Step limits and the collectives' timeout
  int64_t max_tokens = 0, max_sequences = 0, max_logit_rows = 0, max_blocks_per_sequence = 0;
  int64_t blocks_per_sequence = 0;
  double step_timeout_seconds = 600;
  // The engine serves guided decoding (its model has a tokenizer): every node's ranks compile the
  // constraints, so a worker without the tokenizer refuses to load.
  bool needs_tokenizer = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, WorkerPlan& x) {
  return f(caf::meta::type_name("WorkerPlan"), x.world_size, x.first_rank, x.local_ranks, x.group, x.launch, x.dtype,
           x.gguf, x.load_format, x.block_size, x.kv_cache_dtype, x.num_kv_blocks, x.gpu_memory_utilization,
           x.kv_cache_bytes, x.device, x.batch_invariant, x.exact_kernels, x.enable_cuda_graph, x.cuda_graph_max_batch_size,
           x.max_tokens, x.max_sequences, x.max_logit_rows, x.max_blocks_per_sequence, x.blocks_per_sequence,
           x.step_timeout_seconds, x.needs_tokenizer);
}

// A worker process: loads (replying the KV blocks each of its ranks can hold), starts its rank actors on
// the pool's size, aborts its ranks' collectives.
using worker_actor = caf::typed_actor<caf::replies_to<load_atom, WorkerPlan>::with<int64_t>,
                                      caf::replies_to<start_atom, int64_t>::with<std::vector<rank_actor>>,
                                      caf::reacts_to<abort_atom>>;

// The engine's coordinator: workers join it, the ranks' rendezvous store lives in it (a get replies
// whether the key is set, and its value), and the engine asks it for the workers of nodes 1..n-1 (the
// reply comes once all have joined).
using coordinator_actor =
    caf::typed_actor<caf::replies_to<join_node_atom, int32_t, worker_actor>::with<bool>,
                     caf::replies_to<store_set_atom, std::string, std::vector<char>>::with<bool>,
                     caf::replies_to<store_get_atom, std::string>::with<bool, std::vector<char>>,
                     caf::replies_to<nodes_atom, int32_t>::with<std::vector<worker_actor>>>;

// The plan of node `node` (ranks node * per_node ..) for a launch of the engine with `options`.
WorkerPlan make_worker_plan(const EngineOptions& options, int32_t node, int32_t launch, const StepLimits& limits,
                            int64_t blocks_per_sequence);
// The engine's options as a worker applies them: the plan's, with the worker's own model, device and
// threads (`local`).
EngineOptions options_from_plan(const WorkerPlan& plan, const EngineOptions& local);
StepLimits limits_from_plan(const WorkerPlan& plan);

// "HOST:PORT" split; throws std::runtime_error naming `flag` when it is not of that form.
std::pair<std::string, uint16_t> parse_host_port(const std::string& address, const std::string& flag);

}  // namespace sabre
