// sabre-worker: one node of a multi-node tensor-parallel group. It connects to the engine's coordinator
// at --dist-init-addr (retrying until it is up), joins as --node-rank, and then loads and runs the ranks
// the engine gives it (actors/remote_ranks.hpp), again after every restart of the engine's ranks. It
// exits when the engine goes away.
//
//   sabre-server --model M --tp 4 --nnodes 2 --dist-init-addr 10.0.0.1:29500        (node 0, HTTP)
//   sabre-worker --model M --node-rank 1 --dist-init-addr 10.0.0.1:29500 --rank-host 10.0.0.2

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>

#include "actors/engine.hpp"
#include "actors/remote_ranks.hpp"
#include "actors/worker_node.hpp"

namespace {

struct Options {
  std::string model;
  std::string tokenizer;
  int32_t node = -1;
  std::string dist_init_addr;
  std::string rank_host = "127.0.0.1";
  std::string device = "cpu";
  unsigned threads = 0;
  double connect_timeout = 300;
  std::string log_level = "info";
};

constexpr const char* kUsage = R"(Usage: sabre-worker --model PATH --node-rank K --dist-init-addr HOST:PORT [options]

Hosts node K's ranks of a tensor-parallel group whose engine (sabre-server --tensor-parallel-size N
--nnodes M --dist-init-addr HOST:PORT) runs on node 0. The engine sends what to load (dtype, KV cache,
limits); this node gives the model's path on this machine, its device and its threads.

  --model PATH                the same model as the engine's, as a path on this machine
  --tokenizer DIR             the engine's tokenizer, when it is not beside the model (guided decoding
                              compiles against it on every node)
  --node-rank K               this node, 1..M-1: it holds ranks K*N/M .. (K+1)*N/M - 1
  --dist-init-addr HOST:PORT  where the engine waits for its nodes
  --rank-host ADDRESS         the address of this machine the other ranks reach its ranks at, for their
                              collectives (default 127.0.0.1: only for nodes on one machine)
  --device cpu|cuda           cpu (default) or cuda: local rank i on GPU i of CUDA_VISIBLE_DEVICES
  --threads N                 CPU threads shared by this node's ranks (default 0: all)
  --connect-timeout SECONDS   how long to keep trying to reach the engine (default 300)
  --log-level LEVEL           trace, debug, info (default), warning, error
)";

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--model") o.model = value();
    else if (arg == "--tokenizer") o.tokenizer = value();
    else if (arg == "--node-rank") o.node = std::stoi(value());
    else if (arg == "--dist-init-addr") o.dist_init_addr = value();
    else if (arg == "--rank-host") o.rank_host = value();
    else if (arg == "--device") o.device = value();
    else if (arg == "--threads") o.threads = static_cast<unsigned>(std::stoul(value()));
    else if (arg == "--connect-timeout") o.connect_timeout = std::stod(value());
    else if (arg == "--log-level") o.log_level = value();
    else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else {
      throw std::runtime_error(fmt::format("unknown argument {} (see --help)", arg));
    }
  }
  if (o.model.empty()) throw std::runtime_error("--model is required");
  if (o.node < 1) throw std::runtime_error("--node-rank must be 1 or more (node 0 is the engine's)");
  if (o.dist_init_addr.empty()) throw std::runtime_error("--dist-init-addr is required");
  return o;
}

// The engine's coordinator, retried until it answers or the timeout passes (the engine may start later).
sabre::coordinator_actor connect(caf::actor_system& system, const Options& options) {
  const auto [host, port] = sabre::parse_host_port(options.dist_init_addr, "--dist-init-addr");
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(options.connect_timeout);
  for (;;) {
    auto coordinator = system.middleman().remote_actor<sabre::coordinator_actor>(host, port);
    if (coordinator) return *coordinator;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error(fmt::format("no engine answered at {} within {} s: {}", options.dist_init_addr,
                                           options.connect_timeout, system.render(coordinator.error())));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse(argc, argv);
    spdlog::set_level(spdlog::level::from_str(options.log_level));
    caf::actor_system_config config;
    sabre::add_engine_message_types(config);
    caf::actor_system system{config};

    sabre::WorkerNodeOptions node;
    node.local.model = options.model;
    node.local.tokenizer = options.tokenizer;
    node.local.device.device = options.device;
    node.local.device.threads = options.threads;
    node.local.parallel.rank_host = options.rank_host;
    node.node = options.node;
    node.coordinator = connect(system, options);
    const sabre::worker_actor worker = sabre::spawn_worker_node(system, node);

    caf::scoped_actor self{system};
    std::string error;
    self->request(node.coordinator, std::chrono::seconds(30), sabre::join_node_atom::value, options.node, worker)
        .receive([](bool) {}, [&](caf::error& e) { error = system.render(e); });
    if (!error.empty()) {
      self->send_exit(worker, caf::exit_reason::user_shutdown);
      throw std::runtime_error(fmt::format("joining the engine at {} as node {}: {}", options.dist_init_addr,
                                           options.node, error));
    }
    spdlog::info("sabre-worker: node {} joined the engine at {}", options.node, options.dist_init_addr);
    self->wait_for(worker);  // it quits when the engine goes away
    // Nothing is left to do: the actor system's teardown (its network layer, the collectives' sockets)
    // gets a bounded time, so that a supervisor sees the worker exit once its engine is gone.
    std::thread([] {
      std::this_thread::sleep_for(std::chrono::seconds(10));
      spdlog::warn("sabre-worker: shutting down took more than 10 s; exiting anyway");
      spdlog::default_logger()->flush();
      std::_Exit(0);
    }).detach();
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("sabre-worker: {}", e.what());
    return 1;
  }
}
