#pragma once
// A sabre-worker process's side of ranks in other processes (actors/remote_ranks.hpp): the worker actor
// loads its node's ranks when the engine sends a plan (dropping those of an earlier launch first),
// spawns their rank actors on the pool size the engine chose, and aborts their collectives when asked.
// It runs detached: loading blocks. It quits when the engine's coordinator goes away.

#include <caf/actor_system.hpp>

#include "actors/remote_ranks.hpp"
#include "config/engine_options.hpp"

namespace sabre {

struct WorkerNodeOptions {
  // This machine's: the model's path, the device and threads, parallel.rank_host (the address its ranks
  // listen on for their peers). The rest comes with each plan.
  EngineOptions local;
  int32_t node = 1;
  coordinator_actor coordinator;
};

worker_actor spawn_worker_node(caf::actor_system& system, WorkerNodeOptions options);

}  // namespace sabre
