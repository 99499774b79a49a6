// Ranks in other processes: the engine in this process is node 0 and real sabre-worker processes are the
// other nodes, joined over the loopback interface (CAF's network layer; Gloo between the ranks). Two
// and four ranks over two and three processes give transformers' greedy ids under concurrent load; a
// worker that fails a step, or that is killed in the middle of a stream, ends every running request
// with an error and stops the engine, never a hang; with --on-rank-failure restart the engine waits
// for the node to join again and serves.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "engine_test_support.hpp"

extern char** environ;

namespace sabre {
namespace {

using engine_test::fixture_model;
using engine_test::Golden;
using engine_test::greedy_request;
using engine_test::load_golden;
using engine_test::RequestResult;
using engine_test::TestEngine;

// A port nothing listens on now (the kernel's pick for an ephemeral bind).
uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// A sabre-worker process, killed (if still running) and reaped when it goes out of scope.
class WorkerProcess {
 public:
  WorkerProcess(const std::string& model, int node, const std::string& address,
                const std::vector<std::string>& env_extra = {}, const std::vector<std::string>& args_extra = {}) {
    std::vector<std::string> args = {SABRE_WORKER_EXE, "--model", model, "--node-rank", std::to_string(node),
                                     "--dist-init-addr", address, "--threads", "1", "--connect-timeout", "60"};
    args.insert(args.end(), args_extra.begin(), args_extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
    env.insert(env.end(), env_extra.begin(), env_extra.end());
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, SABRE_WORKER_EXE, nullptr, nullptr, argv.data(), envp.data()) == 0);
  }
  ~WorkerProcess() { kill(SIGKILL); }
  void kill(int signal) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // Whether it exited by itself within `bound`, and with which status.
  std::optional<int> exit_status(std::chrono::seconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
};

EngineOptions node0(const std::string& model, int64_t ranks, int64_t nodes, const std::string& address) {
  EngineOptions options;
  options.model = fixture_model(model);
  options.cache.num_kv_blocks = 64;
  options.parallel.tensor_parallel_size = ranks;
  options.parallel.nnodes = nodes;
  options.parallel.dist_init_addr = address;
  options.device.threads = 1;
  options.scheduler.step_timeout_seconds = 60;
  return options;
}

std::vector<GenerationRequest> concurrent_load(const Golden& golden) {
  std::vector<GenerationRequest> requests;
  requests.push_back(greedy_request(golden.prompt, static_cast<int64_t>(golden.greedy.size())));
  for (size_t cut = 1; cut <= 3; ++cut) {
    std::vector<int32_t> prompt(golden.prompt.begin() + static_cast<std::ptrdiff_t>(cut), golden.prompt.end());
    requests.push_back(greedy_request(prompt, 5 + static_cast<int64_t>(cut) * 4));
  }
  return requests;
}

std::vector<std::vector<int32_t>> ids_of(const std::vector<RequestResult>& results) {
  std::vector<std::vector<int32_t>> ids;
  for (const RequestResult& r : results) {
    REQUIRE(r.samples.size() == 1);
    INFO(r.samples[0].finished.error_message);
    REQUIRE(r.samples[0].finished.finish_reason == FinishReason::length);
    ids.push_back(r.samples[0].token_ids);
  }
  return ids;
}

}  // namespace

TEST_CASE("multi-node engine: ranks in sabre-worker processes give transformers' ids under concurrent load",
          "[engine][tp][multinode]") {
  const std::string model = "qwen2_bias";
  const Golden golden = load_golden(model);
  const auto requests = concurrent_load(golden);
  std::vector<std::vector<int32_t>> one_rank;
  {
    EngineOptions options = node0(model, 1, 1, "");
    TestEngine engine(options);
    one_rank = ids_of(engine.run(requests));
  }
  REQUIRE(one_rank[0] == golden.greedy);
  // (ranks, processes): one rank in each of two; two in each of two; one in the engine's and one in
  // each of three workers.
  for (const auto& [ranks, nodes] : std::vector<std::pair<int64_t, int64_t>>{{2, 2}, {4, 2}, {4, 4}}) {
    INFO(ranks << " ranks over " << nodes << " processes");
    const std::string address = "127.0.0.1:" + std::to_string(free_port());
    std::vector<std::unique_ptr<WorkerProcess>> workers;
    for (int node = 1; node < nodes; ++node) {
      workers.push_back(std::make_unique<WorkerProcess>(fixture_model(model).string(), node, address));
    }
    TestEngine engine(node0(model, ranks, nodes, address));
    CHECK(ids_of(engine.run(requests)) == one_rank);
    CHECK(engine.info().kv_blocks_total == 64);
  }
}

TEST_CASE("multi-node engine: a worker's rank failing a step ends every request with an error and stops the engine",
          "[engine][tp][multinode]") {
  const Golden golden = load_golden("llama_gqa_untied");
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  WorkerProcess worker(fixture_model("llama_gqa_untied").string(), 1, address,
                       {"SABRE_FAULT_INJECT_RANK_STEP=1:4"});
  TestEngine engine(node0("llama_gqa_untied", 2, 2, address));
  caf::scoped_actor watcher{*engine.system};
  watcher->monitor(engine.engine);
  const auto results = engine.run({greedy_request(golden.prompt, 40), greedy_request(golden.prompt, 40)});
  for (const RequestResult& r : results) {
    CHECK(r.samples[0].finished.finish_reason == FinishReason::error);
    CHECK_THAT(r.samples[0].finished.error_message, Catch::Contains("rank 1") && Catch::Contains("fault injected"));
  }
  bool engine_down = false;
  watcher->receive([&](caf::down_msg&) { engine_down = true; }, caf::after(std::chrono::seconds(30)) >> [] {});
  CHECK(engine_down);
  // The worker sees the engine go and exits by itself.
  CHECK(worker.exit_status(std::chrono::seconds(30)) == 0);
}

TEST_CASE("multi-node engine: a worker killed mid-stream fails the running requests; with restart it rejoins",
          "[engine][tp][multinode]") {
  const Golden golden = load_golden("llama_gqa_untied");
  const std::string model = fixture_model("llama_gqa_untied").string();
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  auto worker = std::make_unique<WorkerProcess>(model, 1, address);
  EngineOptions options = node0("llama_gqa_untied", 2, 2, address);
  options.parallel.on_rank_failure = RankFailurePolicy::restart;
  TestEngine engine(options);

  // A long stream; the worker dies once it is under way.
  caf::scoped_actor self{*engine.system};
  self->request(engine.engine, caf::infinite, generate_atom::value, greedy_request(golden.prompt, 200),
                caf::actor_cast<generation_sink>(self))
      .receive([](std::string&) {}, [](caf::error&) { FAIL("generate failed"); });
  bool streaming = false;
  self->receive([&](TokenDelta&) { streaming = true; }, caf::after(std::chrono::seconds(30)) >> [] {});
  REQUIRE(streaming);
  worker->kill(SIGKILL);
  std::optional<GenerationFinished> finished;
  self->receive_while([&] { return !finished; })([](TokenDelta&) {},
                                                 [&](GenerationFinished& done) { finished = done; },
                                                 caf::after(std::chrono::seconds(60)) >> [&] { FAIL("no finish"); });
  REQUIRE(finished);
  CHECK(finished->finish_reason == FinishReason::error);

  // A new worker process joins as node 1; the engine loads the ranks again and serves.
  worker = std::make_unique<WorkerProcess>(model, 1, address);
  std::vector<int32_t> ids;
  for (int attempt = 0; attempt < 600 && ids.empty(); ++attempt) {
    const auto result = engine.run({greedy_request(golden.prompt, static_cast<int64_t>(golden.greedy.size()))});
    const GenerationFinished& done = result[0].samples[0].finished;
    if (done.finish_reason == FinishReason::error) {
      REQUIRE(done.error_type == "overloaded");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    ids = result[0].samples[0].token_ids;
  }
  CHECK(ids == golden.greedy);
}


TEST_CASE("multi-node engine: ranks in a worker compile guided decoding's constraints too", "[engine][tp][multinode]") {
  const std::string model = "qwen3_qknorm";
  const std::string tokenizer = fixture_model("byte_tokenizer").string();
  GenerationRequest guided;
  guided.prompt = "Code:";
  guided.sampling.temperature = 1.0;
  guided.sampling.seed = 3;
  guided.has_seed = true;
  guided.sampling.guided = {GuidedKind::regex, "[a-c]{2,4}-[0-9]{1,2}"};
  guided.max_tokens = 30;
  guided.n = 2;
  std::vector<std::vector<int32_t>> one_process;
  {
    EngineOptions options = node0(model, 1, 1, "");
    options.tokenizer = tokenizer;
    TestEngine engine(options);
    for (const auto& s : engine.run_one(guided).samples) one_process.push_back(s.token_ids);
  }
  {
    const std::string address = "127.0.0.1:" + std::to_string(free_port());
    WorkerProcess worker(fixture_model(model).string(), 1, address, {}, {"--tokenizer", tokenizer});
    EngineOptions options = node0(model, 2, 2, address);
    options.tokenizer = tokenizer;
    TestEngine engine(options);
    const auto result = engine.run_one(guided);
    REQUIRE(result.samples.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
      INFO(result.samples[i].finished.error_message);
      CHECK(result.samples[i].finished.finish_reason == FinishReason::stop);
      CHECK(result.samples[i].token_ids == one_process[i]);
    }
  }
  // A worker that cannot compile constraints stops the engine from starting, saying why.
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  WorkerProcess worker(fixture_model(model).string(), 1, address);
  EngineOptions options = node0(model, 2, 2, address);
  options.tokenizer = tokenizer;
  CHECK_THROWS_WITH(TestEngine(options), Catch::Contains("--tokenizer"));
}

TEST_CASE("multi-node engine: a prompt scored in chunks across processes gives one process's scores",
          "[engine][tp][multinode][prompt_logprobs]") {
  const std::string model = "qwen3_qknorm";
  const Golden golden = load_golden(model);
  std::vector<int32_t> prompt = golden.prompt;
  prompt.insert(prompt.end(), golden.greedy.begin(), golden.greedy.end() - 1);
  GenerationRequest scored = greedy_request(prompt, 4);
  scored.prompt_logprobs = 2;
  const auto configure = [](EngineOptions& options) { options.scheduler.max_prompt_logprob_rows = 16; };
  std::vector<SampledToken> one_process;
  {
    EngineOptions options = node0(model, 1, 1, "");
    configure(options);
    TestEngine engine(options);
    one_process = engine.run_one(scored).samples.at(0).prompt_logprobs;
  }
  REQUIRE(one_process.size() == prompt.size() - 1);
  const std::string address = "127.0.0.1:" + std::to_string(free_port());
  WorkerProcess worker(fixture_model(model).string(), 1, address);
  EngineOptions options = node0(model, 2, 2, address);
  configure(options);
  TestEngine engine(options);
  // Beside a request that is not scored, so steps mix both kinds of chunk.
  const auto results = engine.run({greedy_request(golden.prompt, 8), scored});
  const auto& sample = results[1].samples.at(0);
  INFO(sample.finished.error_message);
  CHECK(sample.finished.finish_reason == FinishReason::length);
  REQUIRE(sample.prompt_logprobs.size() == one_process.size());
  for (size_t i = 0; i < one_process.size(); ++i) {
    INFO("prompt position " << i + 1);
    CHECK(sample.prompt_logprobs[i].token == one_process[i].token);
    CHECK(std::abs(sample.prompt_logprobs[i].logprob - one_process[i].logprob) < 1e-4);
    REQUIRE(sample.prompt_logprobs[i].top_logprobs.size() == 2);
  }
  CHECK(results[0].samples.at(0).token_ids == std::vector<int32_t>(golden.greedy.begin(), golden.greedy.begin() + 8));
}

}  // namespace sabre
