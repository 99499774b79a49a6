#include "actors/engine.hpp"

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "actors/coordinator.hpp"
#include "actors/engine_launch.hpp"
#include "actors/request_actor.hpp"
#include "model/checkpoint.hpp"

namespace sabre {

void add_engine_message_types(caf::actor_system_config& config) {
  config.add_message_type<GenerationRequest>("sabre.GenerationRequest");
  config.add_message_type<TokenDelta>("sabre.TokenDelta");
  config.add_message_type<GenerationFinished>("sabre.GenerationFinished");
  config.add_message_type<EngineInfo>("sabre.EngineInfo");
  // What crosses to ranks in sabre-worker processes, and the network layer that carries it.
  config.add_message_type<StepInput>("sabre.StepInput");
  config.add_message_type<StepOutput>("sabre.StepOutput");
  config.add_message_type<WorkerPlan>("sabre.WorkerPlan");
  config.add_message_type<rank_actor>("sabre.rank_actor");
  config.add_message_type<std::vector<rank_actor>>("sabre.rank_actors");
  config.add_message_type<worker_actor>("sabre.worker_actor");
  config.add_message_type<std::vector<worker_actor>>("sabre.worker_actors");
  config.load<caf::io::middleman>();
}

}  // namespace sabre

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(sabre::LaunchedEngine)

namespace sabre {
namespace {

// Loads the ranks again after a failure (blocking: it runs on a detached helper actor).
using Relaunch = std::function<LaunchedEngine()>;

struct EngineState {
  // Not an aggregate, so CAF constructs it empty rather than from the actor pointer.
  EngineState() = default;
  static inline const char* name = "sabre.engine";
  scheduler_actor scheduler;
  RequestContext context;
  std::string model_name;
  std::unordered_map<std::string, request_actor> requests;
  uint64_t next_request = 1;
  Relaunch relaunch;  // empty: --on-rank-failure stop
  bool restarting = false;
  int64_t restarts = 0;
};

using EngineSelf = engine_actor::stateful_pointer<EngineState>;

// While the ranks load again, requests are refused as an overloaded server's are (HTTP 503): the
// client may retry.
void refuse_while_restarting(EngineSelf self, const GenerationRequest& request, const generation_sink& sink) {
  GenerationFinished done;
  done.request_id = request.request_id;
  done.finish_reason = FinishReason::error;
  done.error_type = "overloaded";
  done.error_message = "the engine is restarting its ranks after a failure; retry shortly";
  self->send(sink, std::move(done));
}

void use_scheduler(EngineSelf self, const LaunchedEngine& launched) {
  auto& st = self->state;
  st.scheduler = launched.scheduler;
  st.context.scheduler = launched.scheduler;
  st.context.limits = launched.limits;
  // Linked both ways: stopping the engine stops the scheduler (and its ranks); the scheduler's exit
  // reaches the exit handler below.
  self->link_to(launched.scheduler);
}

// The scheduler quit because a rank failed (it has already ended every running request with an error).
void on_scheduler_failed(EngineSelf self, const caf::error& reason) {
  auto& st = self->state;
  if (!st.relaunch) {
    self->quit(reason);
    return;
  }
  st.restarting = true;
  ++st.restarts;
  spdlog::warn("engine: restarting its ranks (restart {}) after: {}", st.restarts, self->system().render(reason));
  auto helper = self->system().spawn<caf::detached>([relaunch = st.relaunch]() -> caf::behavior {
    return {[relaunch](launch_atom) -> caf::result<LaunchedEngine> {
      try {
        return relaunch();
      } catch (const std::exception& e) {
        return caf::make_error(caf::sec::runtime_error, std::string("restarting the ranks failed: ") + e.what());
      }
    }};
  });
  self->request(helper, caf::infinite, launch_atom::value)
      .then(
          [self, helper](LaunchedEngine& launched) {
            use_scheduler(self, launched);
            self->state.restarting = false;
            self->send_exit(helper, caf::exit_reason::normal);
            spdlog::info("engine: ranks restarted; serving again");
          },
          [self, helper](caf::error& error) {
            spdlog::error("engine: {}; the engine stops", self->system().render(error));
            self->send_exit(helper, caf::exit_reason::normal);
            self->quit(error);
          });
}

engine_actor::behavior_type engine_behavior(EngineSelf self, LaunchedEngine launched, RequestContext context,
                                            std::string model_name, Relaunch relaunch,
                                            std::optional<coordinator_actor> coordinator) {
  // The coordinator of the worker nodes lives as long as the engine (and the workers, which watch it,
  // stop when it goes).
  if (coordinator) self->link_to(*coordinator);
  self->state.model_name = std::move(model_name);
  self->state.context = std::move(context);
  self->state.relaunch = std::move(relaunch);
  use_scheduler(self, launched);
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (msg.source == self->state.scheduler.address() && msg.reason != caf::exit_reason::user_shutdown) {
      on_scheduler_failed(self, msg.reason);
    } else {
      self->quit(msg.reason);
    }
  });
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& requests = self->state.requests;
    for (auto it = requests.begin(); it != requests.end(); ++it) {
      if (it->second.address() == msg.source) {
        requests.erase(it);
        break;
      }
    }
  });
  return {
      [self](generate_atom, GenerationRequest& request, generation_sink& sink) -> std::string {
        auto& st = self->state;
        if (request.request_id.empty() || st.requests.count(request.request_id) != 0) {
          // Ids must be unique among live requests so that abort finds the right one.
          request.request_id = request.request_id.empty()
                                   ? fmt::format("req-{}", st.next_request++)
                                   : fmt::format("{}-{}", request.request_id, st.next_request++);
        }
        std::string id = request.request_id;
        if (st.restarting) {
          refuse_while_restarting(self, request, sink);
          return id;
        }
        request_actor actor = spawn_request(self->system(), std::move(request), std::move(sink), st.context);
        self->monitor(actor);
        st.requests.emplace(id, actor);
        return id;
      },
      [self](abort_atom, const std::string& request_id) {
        auto it = self->state.requests.find(request_id);
        if (it != self->state.requests.end()) self->send(it->second, abort_atom::value);
      },
      [self](info_atom) -> caf::result<EngineInfo> {
        if (self->state.restarting) {
          return caf::make_error(caf::sec::runtime_error, "the engine is restarting its ranks after a failure");
        }
        return self->delegate(self->state.scheduler, info_atom::value);
      },
      [self](metrics_atom) -> std::string {
        const auto& st = self->state;
        return st.context.metrics ? render_prometheus(st.context.metrics->snapshot(), st.model_name) : std::string();
      },
  };
}

// Waits (bounded) until the failed launch's ranks have let go of their models: on a GPU their memory
// must be free before the new ranks size their KV caches.
void wait_for_release(const std::vector<std::weak_ptr<const Transformer>>& models, std::chrono::seconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  for (const auto& model : models) {
    while (!model.expired() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!model.expired()) {
      spdlog::warn("engine: a failed rank still holds its model after {} s; loading the new ranks anyway",
                   bound.count());
      return;
    }
  }
}

// With several nodes: the coordinator the sabre-worker processes join, published at --dist-init-addr.
std::optional<RemoteNodes> publish_coordinator(caf::actor_system& system, const ParallelConfig& parallel) {
  if (parallel.nnodes <= 1) return std::nullopt;
  if (parallel.nnodes > parallel.tensor_parallel_size || parallel.tensor_parallel_size % parallel.nnodes != 0) {
    throw std::runtime_error(fmt::format("--nnodes {}: the {} ranks of --tensor-parallel-size must divide evenly "
                                         "among the nodes",
                                         parallel.nnodes, parallel.tensor_parallel_size));
  }
  if (!system.has_middleman()) {
    throw std::runtime_error("--nnodes > 1 needs CAF's network layer: load caf::io::middleman in the "
                             "actor_system_config (add_engine_message_types does)");
  }
  const auto [host, port] = parse_host_port(parallel.dist_init_addr, "--dist-init-addr");
  RemoteNodes remote;
  remote.coordinator = spawn_coordinator(system, static_cast<int32_t>(parallel.nnodes));
  auto published = system.middleman().publish(remote.coordinator, port, host.c_str(), true);
  if (!published) {
    caf::anon_send_exit(remote.coordinator, caf::exit_reason::user_shutdown);
    throw std::runtime_error(fmt::format("--dist-init-addr {}: cannot listen there: {}", parallel.dist_init_addr,
                                         system.render(published.error())));
  }
  remote.store = std::make_shared<CoordinatorStore>(system, remote.coordinator);
  spdlog::info("engine: coordinator for {} node(s) listening at {}:{}", parallel.nnodes, host, *published);
  return remote;
}

}  // namespace

engine_actor spawn_engine(caf::actor_system& system, const EngineOptions& options) {
  Checkpoint checkpoint = open_checkpoint(options.model, options.weights.load_format);
  auto served = std::make_shared<const ServedModel>(describe_served_model(checkpoint, options.tokenizer));
  return spawn_engine(system, options, std::move(checkpoint), std::move(served));
}

engine_actor spawn_engine(caf::actor_system& system, const EngineOptions& options, Checkpoint checkpoint,
                          std::shared_ptr<const ServedModel> served) {
  auto metrics = std::make_shared<EngineMetrics>();
  const std::optional<RemoteNodes> remote = publish_coordinator(system, options.parallel);
  const RemoteNodes* nodes = remote ? &*remote : nullptr;
  LaunchedEngine launched;
  try {
    launched = launch_engine(system, options, checkpoint, metrics, 0, nodes, served->guided);
  } catch (...) {
    if (remote) caf::anon_send_exit(remote->coordinator, caf::exit_reason::user_shutdown);
    throw;
  }

  RequestContext context;
  context.tokenizer = served->tokenizer;
  context.eos_token_ids = checkpoint.config.eos_token_ids;
  context.metrics = metrics;
  Relaunch relaunch;
  if (options.parallel.on_rank_failure == RankFailurePolicy::restart) {
    // The checkpoint is opened again (its mapped files were released after the first load).
    auto previous = std::make_shared<std::vector<std::weak_ptr<const Transformer>>>(launched.models);
    auto launches = std::make_shared<int>(0);
    relaunch = [&system, options, metrics, previous, launches, remote, guided = served->guided] {
      wait_for_release(*previous, std::chrono::seconds(60));
      Checkpoint reopened = open_checkpoint(options.model, options.weights.load_format);
      LaunchedEngine again =
          launch_engine(system, options, reopened, metrics, ++*launches, remote ? &*remote : nullptr, guided);
      *previous = again.models;
      return again;
    };
  }
  std::optional<coordinator_actor> coordinator;
  if (remote) coordinator = remote->coordinator;
  return system.spawn(engine_behavior, std::move(launched), std::move(context), served_model_name(options),
                      std::move(relaunch), std::move(coordinator));
}

void stop_engine(const engine_actor& engine) { caf::anon_send_exit(engine, caf::exit_reason::user_shutdown); }

}  // namespace sabre
