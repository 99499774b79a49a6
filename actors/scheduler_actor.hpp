#pragma once
// The scheduler actor: owns the KV block pool (BlockManager) and the scheduling policy (Scheduler),
// takes submissions from request actors, drives the ranks one step at a time and routes each step's
// sampled tokens back to the request actors that own the sequences.

#include <caf/actor_system.hpp>

#include <memory>
#include <string>
#include <vector>

#include "actors/block_manager.hpp"
#include "actors/internal_messages.hpp"
#include "actors/scheduler.hpp"

namespace sabre {

class EngineMetrics;

struct SchedulerActorOptions {
  SchedulerConfig scheduler;
  BlockManagerConfig blocks;
  std::string model_name;
  int64_t vocab_size = 0;
  std::shared_ptr<EngineMetrics> metrics;  // may be null
};

// `ranks`: rank 0 first; every rank gets every step, rank 0's samples are used.
scheduler_actor spawn_scheduler(caf::actor_system& system, SchedulerActorOptions options,
                                std::vector<rank_actor> ranks);

}  // namespace sabre
