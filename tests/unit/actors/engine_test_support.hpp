#pragma once
// Drives a spawned engine from a test: sends requests through a scoped actor acting as their sink and
// collects every delta and finish message, with a timeout so that a lost message fails the test
// instead of hanging it.

#include <caf/all.hpp>
#include <simdjson.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "actors/engine.hpp"
#include "actors/interfaces.hpp"

namespace sabre::engine_test {

// Sets an environment variable for one scope, even when a REQUIRE leaves it early (the fault injections
// are read from the environment).
struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) { ::setenv(name.c_str(), value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

struct SampleResult {
  std::vector<int32_t> token_ids;
  std::string text;
  std::vector<SampledToken> logprobs;
  std::vector<SampledToken> prompt_logprobs;
  int64_t deltas_with_prompt_logprobs = 0;
  GenerationFinished finished;
  bool done = false;  // `finished` has arrived
  int64_t deltas = 0;
};

struct RequestResult {
  std::string request_id;
  std::vector<SampleResult> samples;  // one per n; a rejected request has one with finish_reason "error"
};

// Sends every request at once (they run concurrently) and waits until each sample has finished.
inline std::vector<RequestResult> run_requests(caf::actor_system& system, const engine_actor& engine,
                                               const std::vector<GenerationRequest>& requests,
                                               std::chrono::seconds timeout = std::chrono::seconds(120)) {
  caf::scoped_actor self{system};
  const auto sink = caf::actor_cast<generation_sink>(self);
  std::vector<RequestResult> results(requests.size());
  std::map<std::string, size_t> index_of;
  size_t open_samples = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    self->request(engine, caf::infinite, generate_atom::value, requests[i], sink)
        .receive([&](std::string& id) { results[i].request_id = id; },
                 [&](caf::error& e) { throw std::runtime_error("generate failed: " + system.render(e)); });
    index_of[results[i].request_id] = i;
    results[i].samples.resize(static_cast<size_t>(std::max<int64_t>(requests[i].n, 1)));
    open_samples += results[i].samples.size();
  }
  bool timed_out = false;
  self->receive_while([&] { return open_samples > 0 && !timed_out; })(
      [&](TokenDelta& delta) {
        SampleResult& s = results.at(index_of.at(delta.request_id)).samples.at(static_cast<size_t>(delta.index));
        s.token_ids.insert(s.token_ids.end(), delta.token_ids.begin(), delta.token_ids.end());
        s.text += delta.text;
        s.logprobs.insert(s.logprobs.end(), delta.logprobs.begin(), delta.logprobs.end());
        if (!delta.prompt_logprobs.empty()) {
          s.prompt_logprobs = delta.prompt_logprobs;
          ++s.deltas_with_prompt_logprobs;
        }
        ++s.deltas;
      },
      [&](GenerationFinished& done) {
        RequestResult& r = results.at(index_of.at(done.request_id));
        if (done.finish_reason == FinishReason::error && !r.samples.at(static_cast<size_t>(done.index)).done) {
          // A rejected request finishes all its samples with one message.
          for (SampleResult& s : r.samples) {
            if (!s.done) {
              s.finished = done;
              s.done = true;
              --open_samples;
            }
          }
          return;
        }
        r.samples.at(static_cast<size_t>(done.index)).finished = done;
        r.samples.at(static_cast<size_t>(done.index)).done = true;
        --open_samples;
      },
      caf::after(timeout) >> [&] { timed_out = true; });
  if (timed_out) throw std::runtime_error("engine test: timed out waiting for the engine's replies");
  return results;
}

inline EngineInfo engine_info(caf::actor_system& system, const engine_actor& engine) {
  caf::scoped_actor self{system};
  EngineInfo info;
  self->request(engine, caf::infinite, info_atom::value)
      .receive([&](EngineInfo& i) { info = i; },
               [&](caf::error& e) { throw std::runtime_error("info failed: " + system.render(e)); });
  return info;
}

// Directories this process made, removed when it exits (after every engine using them has stopped).
struct TempDirectories {
  std::vector<std::filesystem::path> paths;
  ~TempDirectories() {
    for (const auto& path : paths) {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  }
};
inline TempDirectories& temp_directories() {
  static TempDirectories directories;
  return directories;
}

// A copy of a fixture model directory whose config allows `context` positions, for long prompts. The
// directory is named after this process: CTest runs test cases as parallel processes, and two of them
// rewriting one shared copy would read each other's half-written files.
inline std::filesystem::path long_context_copy(const std::string& fixture, int64_t context) {
  const std::filesystem::path source = std::filesystem::path(SABRE_TEST_FIXTURES) / "models" / fixture;
  const std::filesystem::path target =
      std::filesystem::temp_directory_path() /
      ("sabre-engine-test-" + fixture + "-" + std::to_string(context) + "-" + std::to_string(::getpid()));
  std::filesystem::create_directories(target);
  temp_directories().paths.push_back(target);
  for (const auto& entry : std::filesystem::directory_iterator(source)) {
    std::filesystem::copy_file(entry.path(), target / entry.path().filename(),
                               std::filesystem::copy_options::overwrite_existing);
  }
  std::ifstream in(source / "config.json");
  std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string key = "\"max_position_embeddings\": ";
  const size_t at = config.find(key);
  if (at == std::string::npos) throw std::runtime_error("fixture config has no max_position_embeddings");
  const size_t end = config.find(',', at);
  config.replace(at + key.size(), end - at - key.size(), std::to_string(context));
  std::ofstream(target / "config.json") << config;
  return target;
}

}  // namespace sabre::engine_test

namespace sabre::engine_test {

// An actor system with an engine on a fixture model; the engine is stopped before the system goes.
struct TestEngine {
  caf::actor_system_config config;
  std::unique_ptr<caf::actor_system> system;
  engine_actor engine;

  explicit TestEngine(EngineOptions options) {
    add_engine_message_types(config);
    config.set("scheduler.max-threads", 2);
    system = std::make_unique<caf::actor_system>(config);
    if (options.device.threads == 0) options.device.threads = 1;
    engine = spawn_engine(*system, options);
  }
  ~TestEngine() {
    stop_engine(engine);
    engine = nullptr;
    system.reset();
  }
  std::vector<RequestResult> run(const std::vector<GenerationRequest>& requests) {
    return run_requests(*system, engine, requests);
  }
  RequestResult run_one(const GenerationRequest& request) { return run({request}).at(0); }
  EngineInfo info() { return engine_info(*system, engine); }
  std::string metrics() {
    caf::scoped_actor self{*system};
    std::string text;
    self->request(engine, caf::infinite, metrics_atom::value)
        .receive([&](std::string& t) { text = std::move(t); },
                 [&](caf::error& e) { throw std::runtime_error("metrics failed: " + system->render(e)); });
    return text;
  }
};

// Streams `request`, aborts it once at least `min_deltas` deltas have come and a speculative step has
// been verified (how many steps pass before the abort lands depends on the machine's load), and
// returns how it finished ("abort", or "timeout" when nothing came for 30 s). REQUIREs that speculation
// happened within 500 deltas.
inline std::string abort_after_speculation(TestEngine& engine, const GenerationRequest& request, int min_deltas) {
  caf::scoped_actor self{*engine.system};
  std::string id;
  self->request(engine.engine, caf::infinite, generate_atom::value, request, caf::actor_cast<generation_sink>(self))
      .receive([&](std::string& rid) { id = rid; }, [&](caf::error&) { FAIL("generate failed"); });
  int deltas = 0;
  const auto speculated = [&] { return engine.info().speculative_proposed > 0; };
  self->receive_while([&] { return deltas < min_deltas || (deltas < 500 && !speculated()); })(
      [&](TokenDelta&) { ++deltas; }, caf::after(std::chrono::seconds(30)) >> [&] { deltas = 9999; });
  REQUIRE(deltas >= min_deltas);
  REQUIRE(deltas < 500);
  self->send(engine.engine, abort_atom::value, id);
  std::string reason;
  self->receive_while([&] { return reason.empty(); })(
      [&](TokenDelta&) {}, [&](GenerationFinished& done) { reason = finish_reason_name(done.finish_reason); },
      caf::after(std::chrono::seconds(30)) >> [&] { reason = "timeout"; });
  return reason;
}

// Whether the engine has every KV block free and nothing running, waiting up to 3 s for it.
inline bool drains(TestEngine& engine) {
  for (int i = 0; i < 300; ++i) {
    const EngineInfo info = engine.info();
    if (info.kv_blocks_used == 0 && info.num_running == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

inline std::filesystem::path fixture_model(const std::string& name) {
  return std::filesystem::path(SABRE_TEST_FIXTURES) / "models" / name;
}

// A fixture's prompt and transformers' greedy continuation of it (golden.json).
struct Golden {
  std::vector<int32_t> prompt, greedy;
};

inline Golden load_golden(const std::string& model) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.load((fixture_model(model) / "golden.json").string());
  Golden g;
  for (int64_t id : doc["prompt_ids"].get_array()) g.prompt.push_back(static_cast<int32_t>(id));
  for (int64_t id : doc["greedy_ids"].get_array()) g.greedy.push_back(static_cast<int32_t>(id));
  return g;
}

inline GenerationRequest greedy_request(std::vector<int32_t> prompt, int64_t max_tokens) {
  GenerationRequest r;
  r.prompt_token_ids = std::move(prompt);
  r.sampling.temperature = 0;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  return r;
}

}  // namespace sabre::engine_test
