#include "actors/coordinator.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <stdexcept>
#include <thread>

namespace sabre {
namespace {

struct CoordinatorState {
  // Not an aggregate, so CAF constructs it empty rather than from the actor pointer.
  CoordinatorState() = default;
  static inline const char* name = "sabre.coordinator";
  int32_t nnodes = 1;
  std::map<int32_t, worker_actor> workers;
  std::map<std::string, std::vector<char>> store;
  std::vector<caf::typed_response_promise<std::vector<worker_actor>>> waiting;
};

using CoordinatorSelf = coordinator_actor::stateful_pointer<CoordinatorState>;

bool all_joined(const CoordinatorState& st) { return static_cast<int32_t>(st.workers.size()) == st.nnodes - 1; }

std::vector<worker_actor> workers_in_order(const CoordinatorState& st) {
  std::vector<worker_actor> out;
  for (const auto& [node, worker] : st.workers) out.push_back(worker);
  return out;
}

coordinator_actor::behavior_type coordinator_behavior(CoordinatorSelf self, int32_t nnodes) {
  self->state.nnodes = nnodes;
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& workers = self->state.workers;
    for (auto it = workers.begin(); it != workers.end(); ++it) {
      if (it->second.address() == msg.source) {
        spdlog::warn("coordinator: node {} is gone ({})", it->first, self->system().render(msg.reason));
        workers.erase(it);
        break;
      }
    }
  });
  return {
      [self](join_node_atom, int32_t node, const worker_actor& worker) -> caf::result<bool> {
        auto& st = self->state;
        if (node < 1 || node >= st.nnodes) {
          return caf::make_error(caf::sec::invalid_argument,
                                 fmt::format("node rank {} is not a worker node of {} (1..{})", node, st.nnodes,
                                             st.nnodes - 1));
        }
        st.workers[node] = worker;
        self->monitor(worker);
        spdlog::info("coordinator: node {} joined ({} of {} worker nodes)", node, st.workers.size(), st.nnodes - 1);
        if (all_joined(st)) {
          for (auto& promise : st.waiting) promise.deliver(workers_in_order(st));
          st.waiting.clear();
        }
        return true;
      },
      [self](store_set_atom, const std::string& key, std::vector<char>& value) {
        self->state.store[key] = std::move(value);
        return true;
      },
      [self](store_get_atom, const std::string& key) -> caf::result<bool, std::vector<char>> {
        const auto it = self->state.store.find(key);
        if (it == self->state.store.end()) return {false, std::vector<char>()};
        return {true, it->second};
      },
      [self](nodes_atom, int32_t) -> caf::result<std::vector<worker_actor>> {
        if (all_joined(self->state)) return workers_in_order(self->state);
        auto promise = self->make_response_promise<std::vector<worker_actor>>();
        self->state.waiting.push_back(promise);
        return promise;
      },
  };
}

}  // namespace

coordinator_actor spawn_coordinator(caf::actor_system& system, int32_t nnodes) {
  return system.spawn(coordinator_behavior, nnodes);
}

std::vector<worker_actor> wait_for_workers(caf::actor_system& system, const coordinator_actor& coordinator,
                                           int32_t nnodes, std::chrono::milliseconds timeout) {
  caf::scoped_actor self{system};
  std::vector<worker_actor> workers;
  std::string error;
  self->request(coordinator, caf::duration{timeout}, nodes_atom::value, nnodes)
      .receive([&](std::vector<worker_actor>& w) { workers = std::move(w); },
               [&](caf::error& e) { error = system.render(e); });
  if (!error.empty()) {
    throw std::runtime_error(fmt::format("waiting {} s for the {} sabre-worker node(s) to join: {}",
                                         timeout.count() / 1000, nnodes - 1, error));
  }
  return workers;
}

CoordinatorStore::CoordinatorStore(caf::actor_system& system, coordinator_actor coordinator)
    : system_(system), coordinator_(std::move(coordinator)) {}

void CoordinatorStore::set(const std::string& key, const std::vector<char>& value) {
  caf::scoped_actor self{system_};
  std::string error;
  self->request(coordinator_, std::chrono::seconds(30), store_set_atom::value, key, value)
      .receive([](bool) {}, [&](caf::error& e) { error = system_.render(e); });
  if (!error.empty()) throw std::runtime_error(fmt::format("rendezvous: setting '{}' failed: {}", key, error));
}

std::vector<char> CoordinatorStore::get(const std::string& key, std::chrono::milliseconds timeout) {
  caf::scoped_actor self{system_};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cancelled_) {
      std::lock_guard lock(mutex_);
      throw std::runtime_error(fmt::format("rendezvous cancelled: {}", why_));
    }
    bool found = false;
    std::vector<char> value;
    std::string error;
    self->request(coordinator_, std::chrono::seconds(30), store_get_atom::value, key)
        .receive(
            [&](bool f, std::vector<char>& v) {
              found = f;
              value = std::move(v);
            },
            [&](caf::error& e) { error = system_.render(e); });
    if (!error.empty()) throw std::runtime_error(fmt::format("rendezvous: reading '{}' failed: {}", key, error));
    if (found) return value;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error(fmt::format("rendezvous: no rank set '{}' within {} ms", key, timeout.count()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void CoordinatorStore::cancel(const std::string& why) {
  std::lock_guard lock(mutex_);
  if (!cancelled_) why_ = why;
  cancelled_ = true;
}

}  // namespace sabre
