#pragma once
// Everything below the engine's facade, started from an opened checkpoint: the rank group
// (model/rank_group.hpp), one rank actor per rank, and the scheduler actor over them. The facade
// launches once at start, and again after a rank failure when --on-rank-failure restart asks for it.

#include <caf/actor_system.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actors/engine_metrics.hpp"
#include "actors/internal_messages.hpp"
#include "actors/remote_ranks.hpp"
#include "kernels/communicator.hpp"
#include "actors/request_check.hpp"
#include "config/engine_options.hpp"
#include "model/checkpoint.hpp"
#include "model/transformer.hpp"

namespace sabre {

struct LaunchedEngine {
  scheduler_actor scheduler;
  RequestLimits limits;  // what requests are checked against (the pool's size may differ between launches)
  // The ranks' models, to wait for their release before loading again (their GPU memory).
  std::vector<std::weak_ptr<const Transformer>> models;
};

// The name clients use: --served-model-name, or the model path's file name.
std::string served_model_name(const EngineOptions& options);

// Loads the ranks of `checkpoint` and spawns them and the scheduler. The checkpoint's mapped files are
// released once the ranks hold the weights. `launch` counts launches from 0: fault injection
// (SABRE_FAULT_INJECT_RANK_STEP=[RANK:]STEP, for tests) applies to the first only. With several nodes
// it waits for the workers to join, has them load their ranks alongside this process's, sizes the pool
// for the tightest node and adds their rank actors to the scheduler's (actors/remote_ranks.hpp). Throws
// std::runtime_error with the cause (see load_rank_group; a KV pool too small for one max_model_len
// sequence).
// The other nodes of a multi-node group (options.parallel.nnodes > 1): the coordinator they join and
// the rendezvous store in it.
struct RemoteNodes {
  coordinator_actor coordinator;
  std::shared_ptr<RendezvousStore> store;
};

// `guided`: the served model's guided-decoding compiler (null without a tokenizer), given to the ranks and
// to the request check.
LaunchedEngine launch_engine(caf::actor_system& system, const EngineOptions& options, Checkpoint& checkpoint,
                             std::shared_ptr<EngineMetrics> metrics, int launch, const RemoteNodes* remote = nullptr,
                             std::shared_ptr<structured::GuidedCompiler> guided = nullptr);

}  // namespace sabre
