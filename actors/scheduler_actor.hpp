#pragma once
// The scheduler actor: the CAF shell around EngineCore (the block pool, the scheduling policy, the
// sequences' owners, the fan-out and gather of rank replies). It takes submissions and aborts from
// request actors, sends each planned step to every rank (with a bound: SchedulerConfig's step timeout),
// and delivers the core's messages to the request actors. When a rank fails, the core fails every
// request still running and the actor quits with the failure, taking the engine (linked) with it.

#include <caf/actor_system.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "actors/engine_core.hpp"
#include "actors/internal_messages.hpp"

namespace sabre {

// `ranks`: rank 0 first; every rank gets every step, rank 0's samples are used. `abort_collectives`
// (may be empty) fails the ranks' collectives from the scheduler's thread: called when a rank fails or
// times out, so that its peers, which may wait on it inside a collective, stop too.
scheduler_actor spawn_scheduler(caf::actor_system& system, EngineCoreOptions options, std::vector<rank_actor> ranks,
                                std::function<void()> abort_collectives = {});

}  // namespace sabre
