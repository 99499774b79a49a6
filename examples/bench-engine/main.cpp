// Continuous batching, measured: the same N greedy requests run one at a time and then all at once on
// a fresh engine each (so the second run gets no prefix-cache hits from the first). Reports generated
// tokens per second for both, the gain, latency figures, and where each step's time goes: the forward
// pass on the rank (sampling included) versus everything else (planning, messages, bookkeeping) as
// seen by the scheduler. A two-token warm-up request runs before each phase and is not counted.
//
//   sabre-bench-engine [--model PATH] [--requests N] [--prompt-tokens P] [--max-tokens T]
//                      [--threads K] [--batch-invariant] [--exact-kernels] [--max-num-batched-tokens B]
//                      [--kv-cache-mb M]
#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"

namespace {

struct Options {
  std::string model = "models/SmolLM2-135M-Instruct.Q4_1.gguf";
  int64_t requests = 16;
  int64_t prompt_tokens = 128;
  int64_t max_tokens = 64;
  unsigned threads = 0;
  bool batch_invariant = false;
  bool exact_kernels = false;
  int64_t max_num_batched_tokens = 2048;
  int64_t kv_cache_mb = 1024;
  bool async_scheduling = true;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(fmt::format("{} needs a value", arg));
      return argv[++i];
    };
    if (arg == "--model") o.model = value();
    else if (arg == "--requests") o.requests = std::stoll(value());
    else if (arg == "--prompt-tokens") o.prompt_tokens = std::stoll(value());
    else if (arg == "--max-tokens") o.max_tokens = std::stoll(value());
    else if (arg == "--threads") o.threads = static_cast<unsigned>(std::stoul(value()));
    else if (arg == "--batch-invariant") o.batch_invariant = true;
    else if (arg == "--exact-kernels") o.exact_kernels = true;
    else if (arg == "--max-num-batched-tokens") o.max_num_batched_tokens = std::stoll(value());
    else if (arg == "--kv-cache-mb") o.kv_cache_mb = std::stoll(value());
    else if (arg == "--no-async-scheduling") o.async_scheduling = false;
    else if (arg == "--help" || arg == "-h") {
      std::cout << "usage: sabre-bench-engine [--model PATH] [--requests N] [--prompt-tokens P] [--max-tokens T]\n"
                   "                          [--threads K] [--batch-invariant] [--exact-kernels] [--max-num-batched-tokens B]\n"
                   "                          [--kv-cache-mb M]\n"
                   "                          [--no-async-scheduling]\n";
      std::exit(0);
    } else {
      throw std::runtime_error(fmt::format("unknown argument {}", arg));
    }
  }
  if (o.requests < 1 || o.prompt_tokens < 1 || o.max_tokens < 1) {
    throw std::runtime_error("--requests, --prompt-tokens and --max-tokens must be at least 1");
  }
  return o;
}

struct Finished {
  sabre::GenerationFinished done;
  std::vector<double> token_times;  // seconds since the request was sent, one per streamed token
};

struct PhaseResult {
  double wall_seconds = 0;
  int64_t generated = 0;
  std::vector<double> ttft, itl, e2e;
  sabre::EngineInfo info;
};

using Clock = std::chrono::steady_clock;

// Runs `requests` through `engine`, `concurrent` at a time at most, and collects per-token arrival times.
PhaseResult run_phase(caf::actor_system& system, const sabre::engine_actor& engine,
                      const std::vector<sabre::GenerationRequest>& requests, size_t concurrent) {
  caf::scoped_actor self{system};
  const auto sink = caf::actor_cast<sabre::generation_sink>(self);
  PhaseResult result;
  std::map<std::string, Clock::time_point> sent;
  std::map<std::string, std::vector<double>> arrivals;
  size_t next = 0, open = 0;
  sabre::EngineInfo before;
  self->request(engine, caf::infinite, sabre::info_atom::value)
      .receive([&](sabre::EngineInfo& info) { before = info; },
               [&](caf::error& e) { throw std::runtime_error(system.render(e)); });
  const auto start = Clock::now();
  auto send_next = [&] {
    const auto now = Clock::now();
    self->request(engine, caf::infinite, sabre::generate_atom::value, requests[next++], sink)
        .receive([&](std::string& id) { sent[id] = now; },
                 [&](caf::error& e) { throw std::runtime_error(system.render(e)); });
    ++open;
  };
  while (next < requests.size() && open < concurrent) send_next();
  while (open > 0) {
    self->receive(
        [&](sabre::TokenDelta& delta) {
          const double t = std::chrono::duration<double>(Clock::now() - sent[delta.request_id]).count();
          for (size_t i = 0; i < delta.token_ids.size(); ++i) arrivals[delta.request_id].push_back(t);
        },
        [&](sabre::GenerationFinished& done) {
          if (done.finish_reason == sabre::FinishReason::error) throw std::runtime_error("request failed: " + done.error_message);
          --open;
          result.generated += done.usage.completion_tokens;
          const auto& times = arrivals[done.request_id];
          if (!times.empty()) result.ttft.push_back(times.front());
          for (size_t i = 1; i < times.size(); ++i) result.itl.push_back(times[i] - times[i - 1]);
          result.e2e.push_back(done.timings.end_to_end_seconds);
          if (next < requests.size()) send_next();
        });
  }
  result.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  self->request(engine, caf::infinite, sabre::info_atom::value)
      .receive([&](sabre::EngineInfo& info) { result.info = info; },
               [&](caf::error& e) { throw std::runtime_error(system.render(e)); });
  // Only this phase's steps (not the warm-up's).
  result.info.num_steps -= before.num_steps;
  result.info.num_steps_planned_ahead -= before.num_steps_planned_ahead;
  result.info.batched_tokens -= before.batched_tokens;
  result.info.step_seconds -= before.step_seconds;
  result.info.model_seconds -= before.model_seconds;
  return result;
}

double mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

void report(const char* name, const PhaseResult& r) {
  const auto& info = r.info;
  const double overhead = info.step_seconds - info.model_seconds;
  std::cout << fmt::format(
      "{:<12} wall {:7.2f} s | generated {:6} tok, {:7.1f} tok/s | TTFT mean {:7.1f} ms p90 {:7.1f} ms | "
      "ITL mean {:6.1f} ms p90 {:6.1f} ms\n",
      name, r.wall_seconds, r.generated, static_cast<double>(r.generated) / r.wall_seconds, mean(r.ttft) * 1e3,
      percentile(r.ttft, 0.9) * 1e3, mean(r.itl) * 1e3, percentile(r.itl, 0.9) * 1e3);
  std::cout << fmt::format(
      "{:<12} steps {:6} ({} planned ahead), {:6.1f} tokens/step | step {:7.3f} ms = model+sampling {:7.3f} ms + actors/scheduling "
      "{:6.3f} ms ({:4.1f}%) | wall outside steps {:5.1f}%\n",
      "", info.num_steps, info.num_steps_planned_ahead, static_cast<double>(info.batched_tokens) / static_cast<double>(std::max<int64_t>(info.num_steps, 1)),
      info.step_seconds / static_cast<double>(std::max<int64_t>(info.num_steps, 1)) * 1e3,
      info.model_seconds / static_cast<double>(std::max<int64_t>(info.num_steps, 1)) * 1e3,
      overhead / static_cast<double>(std::max<int64_t>(info.num_steps, 1)) * 1e3,
      100.0 * overhead / std::max(info.step_seconds, 1e-9), 100.0 * (r.wall_seconds - info.step_seconds) / r.wall_seconds);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse(argc, argv);
    spdlog::set_level(spdlog::level::warn);
    caf::actor_system_config config;
    sabre::add_engine_message_types(config);
    caf::actor_system system{config};

    sabre::EngineOptions engine_options;
    engine_options.model = options.model;
    engine_options.device.threads = options.threads;
    engine_options.device.batch_invariant = options.batch_invariant;
    engine_options.device.exact_kernels = options.exact_kernels;
    engine_options.scheduler.max_model_len = options.prompt_tokens + options.max_tokens + 16;
    engine_options.scheduler.max_num_batched_tokens = options.max_num_batched_tokens;
    engine_options.scheduler.max_num_seqs = std::max<int64_t>(options.requests, 1);
    engine_options.cache.kv_cache_bytes = options.kv_cache_mb << 20;
    engine_options.scheduler.max_steps_in_flight = options.async_scheduling ? 2 : 1;

    // Random prompts (ids in the upper 90% of the vocabulary, seeded) so that no two share a prefix.
    int64_t vocab = 0;
    {
      const sabre::engine_actor probe = sabre::spawn_engine(system, engine_options);
      caf::scoped_actor self{system};
      self->request(probe, caf::infinite, sabre::info_atom::value)
          .receive([&](sabre::EngineInfo& info) { vocab = info.vocab_size; },
                   [&](caf::error& e) { throw std::runtime_error(system.render(e)); });
      sabre::stop_engine(probe);
    }
    std::mt19937 rng(7);
    std::vector<sabre::GenerationRequest> requests;
    for (int64_t i = 0; i < options.requests; ++i) {
      sabre::GenerationRequest r;
      for (int64_t t = 0; t < options.prompt_tokens; ++t) {
        r.prompt_token_ids.push_back(static_cast<int32_t>(vocab / 10 + static_cast<int64_t>(rng() % static_cast<uint64_t>(vocab - vocab / 10))));
      }
      r.sampling.temperature = 0;
      r.max_tokens = options.max_tokens;
      r.ignore_eos = true;
      requests.push_back(std::move(r));
    }

    std::cout << fmt::format("sabre-bench-engine: {} requests x ({} prompt + {} generated tokens), model {}, "
                             "{} threads, batch_invariant {}, exact_kernels {}, async_scheduling {}, {} hardware threads\n",
                             options.requests, options.prompt_tokens, options.max_tokens, options.model,
                             options.threads == 0 ? std::thread::hardware_concurrency() : options.threads,
                             options.batch_invariant, options.exact_kernels, options.async_scheduling, std::thread::hardware_concurrency());
    std::vector<std::pair<const char*, size_t>> phases = {{"one-by-one", 1}, {"concurrent", requests.size()}};
    std::vector<PhaseResult> results;
    for (const auto& [name, concurrency] : phases) {
      const sabre::engine_actor engine = sabre::spawn_engine(system, engine_options);
      // One short request first, so that first-touch costs (KV pool pages, thread start-up) stay out.
      sabre::GenerationRequest warm_up = requests.front();
      warm_up.max_tokens = 2;
      warm_up.prompt_token_ids.resize(std::min<size_t>(warm_up.prompt_token_ids.size(), 8));
      run_phase(system, engine, {warm_up}, 1);
      results.push_back(run_phase(system, engine, requests, concurrency));
      sabre::stop_engine(engine);
      report(name, results.back());
    }
    const double gain = (static_cast<double>(results[1].generated) / results[1].wall_seconds) /
                        (static_cast<double>(results[0].generated) / results[0].wall_seconds);
    std::cout << fmt::format("throughput gain of concurrent over one-by-one: {:.2f}x\n", gain);
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
}
