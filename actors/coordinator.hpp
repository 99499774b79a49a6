#pragma once
// The engine's side of ranks in other processes (actors/remote_ranks.hpp): the coordinator actor the
// workers join and whose key-value store their ranks meet through, and a RendezvousStore over a
// coordinator for whoever needs one outside an actor (the loading threads, here and in the workers).

#include <caf/actor_system.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/remote_ranks.hpp"
#include "kernels/communicator.hpp"

namespace sabre {

// Spawns a coordinator expecting the workers of nodes 1..nnodes-1. A node that joins again (a worker
// restarted) replaces its earlier handle.
coordinator_actor spawn_coordinator(caf::actor_system& system, int32_t nnodes);

// The workers of nodes 1..nnodes-1, in node order, once all have joined; throws std::runtime_error
// saying which nodes are missing after `timeout`.
std::vector<worker_actor> wait_for_workers(caf::actor_system& system, const coordinator_actor& coordinator,
                                           int32_t nnodes, std::chrono::milliseconds timeout);

// The coordinator's store. get() asks every 20 ms until the key is set, the timeout passes or the store
// is cancelled.
class CoordinatorStore final : public RendezvousStore {
 public:
  CoordinatorStore(caf::actor_system& system, coordinator_actor coordinator);
  void set(const std::string& key, const std::vector<char>& value) override;
  std::vector<char> get(const std::string& key, std::chrono::milliseconds timeout) override;
  void cancel(const std::string& why) override;

 private:
  caf::actor_system& system_;
  coordinator_actor coordinator_;
  std::atomic<bool> cancelled_{false};
  std::string why_;
  std::mutex mutex_;
};

}  // namespace sabre
