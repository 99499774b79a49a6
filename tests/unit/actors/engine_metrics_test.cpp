// EngineMetrics: histogram bucketing at the edges, the request clock, the scheduler's gauges and
// counters, concurrent updates, and the Prometheus text of a small snapshot line by line.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine_metrics.hpp"
#include "actors/scheduler.hpp"
#include "scheduler_test_support.hpp"

using namespace sabre;
using namespace std::chrono_literals;

TEST_CASE("metrics: histogram buckets include their bound and end in +Inf", "[metrics]") {
  Histogram h({1, 2, 5});
  for (double v : {0.5, 1.0, -3.0, std::nextafter(1.0, 2.0), 2.0, 5.0, 5.5}) h.observe(v);
  h.observe(std::numeric_limits<double>::quiet_NaN());  // dropped
  const HistogramSnapshot s = h.snapshot();
  CHECK(s.upper_bounds == std::vector<double>{1, 2, 5});
  CHECK(s.cumulative_counts == std::vector<uint64_t>{3, 5, 6, 7});
  CHECK(s.count == 7);
  CHECK(s.sum == Approx(0.5 + 1.0 - 3.0 + std::nextafter(1.0, 2.0) + 2.0 + 5.0 + 5.5));

  Histogram empty({0.5});
  CHECK(empty.snapshot().cumulative_counts == std::vector<uint64_t>{0, 0});

  CHECK_THROWS_AS(Histogram({}), std::invalid_argument);
  CHECK_THROWS_AS(Histogram({1, 1}), std::invalid_argument);
  CHECK_THROWS_AS(Histogram({2, 1}), std::invalid_argument);
  CHECK_THROWS_AS(Histogram({1, std::numeric_limits<double>::infinity()}), std::invalid_argument);
}

TEST_CASE("metrics: the engine's bucket bounds are valid and cover their ranges", "[metrics]") {
  for (const auto* bounds : {&metric_buckets::request_latency_seconds(), &metric_buckets::inter_token_seconds(),
                             &metric_buckets::step_seconds(), &metric_buckets::request_tokens(),
                             &metric_buckets::batch_tokens()}) {
    CHECK_NOTHROW(Histogram(*bounds));
  }
  CHECK(metric_buckets::batch_tokens().back() >= 8192);
  CHECK(metric_buckets::step_seconds().front() <= 0.0001);
}

TEST_CASE("metrics: a request's clock gives TTFT, inter-token latency, end-to-end and token counts", "[metrics]") {
  EngineMetrics metrics;
  const auto t0 = RequestTimer::Clock::time_point{} + 100s;

  SECTION("a request that runs to its length") {
    RequestTimer timer(metrics, 7, t0);
    timer.on_tokens(1, t0 + 200ms);
    timer.on_tokens(1, t0 + 250ms);
    timer.on_tokens(2, t0 + 300ms);  // two samples of an n = 2 request arriving together
    timer.on_tokens(0, t0 + 310ms);  // nothing new: no observation
    timer.on_finished(FinishReason::length, t0 + 400ms);
    timer.on_finished(FinishReason::abort, t0 + 500ms);  // a second finish is ignored
    timer.on_tokens(1, t0 + 600ms);                      // so are tokens after the finish
    CHECK(timer.generation_tokens() == 4);

    const EngineMetricsSnapshot s = metrics.snapshot();
    CHECK(s.time_to_first_token.count == 1);
    CHECK(s.time_to_first_token.sum == Approx(0.2));
    CHECK(s.inter_token_latency.count == 2);
    CHECK(s.inter_token_latency.sum == Approx(0.1));
    CHECK(s.e2e_request_latency.count == 1);
    CHECK(s.e2e_request_latency.sum == Approx(0.4));
    CHECK(s.prompt_tokens == 7);
    CHECK(s.generation_tokens == 4);
    CHECK(s.request_prompt_tokens.sum == 7);
    CHECK(s.request_generation_tokens.sum == 4);
    CHECK(s.requests_finished_by(FinishReason::length) == 1);
    CHECK(s.requests_finished_by(FinishReason::abort) == 0);
  }
  SECTION("a request aborted before its first token") {
    RequestTimer timer(metrics, 12, t0);
    timer.on_finished(FinishReason::abort, t0 + 1s);
    const EngineMetricsSnapshot s = metrics.snapshot();
    CHECK(s.requests_finished_by(FinishReason::abort) == 1);
    CHECK(s.time_to_first_token.count == 0);
    CHECK(s.prompt_tokens == 0);  // counted when prefill yields a token
    CHECK(s.request_prompt_tokens.count == 1);
    CHECK(s.request_generation_tokens.cumulative_counts.front() == 1);  // 0 tokens: the lowest bucket (le 1)
    CHECK(s.request_generation_tokens.count == 1);
    CHECK(s.e2e_request_latency.sum == Approx(1.0));
  }
}

TEST_CASE("metrics: scheduler gauges and counters come from the scheduler and the block manager", "[metrics]") {
  using namespace sabre::test;
  BlockManager bm({.block_size = 4, .num_blocks = 16, .enable_prefix_caching = true});
  Scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 1, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  EngineMetrics metrics;
  sched.add(request(1, iota_tokens(9), 2));
  sched.add(request(2, iota_tokens(9), 2));
  const StepPlan p1 = sched.schedule();
  metrics.observe_step(p1.num_batched_tokens, 0.004, 0.0003);
  metrics.set_scheduler_state(read_scheduler_state(sched, bm));
  EngineMetricsSnapshot s = metrics.snapshot();
  CHECK(s.num_running == 1);
  CHECK(s.num_waiting == 1);
  CHECK(s.kv_blocks_used == 3);
  CHECK(s.kv_blocks_total == 16);
  CHECK(s.kv_usage() == Approx(3.0 / 16));
  CHECK(s.prefix_cache_queried_blocks == 2);
  CHECK(s.prefix_cache_hit_blocks == 0);
  CHECK(s.batch_tokens.sum == 9);
  CHECK(s.step_duration.sum == Approx(0.004));
  CHECK(s.step_overhead.sum == Approx(0.0003));

  // Request 1 finishes after two tokens; request 2 then reuses its two computed prompt blocks.
  complete(sched, p1);
  complete(sched, sched.schedule());
  complete(sched, sched.schedule());
  metrics.set_scheduler_state(read_scheduler_state(sched, bm));
  s = metrics.snapshot();
  CHECK(s.prefix_cache_queried_blocks == 4);
  CHECK(s.prefix_cache_hit_blocks == 2);

  // Counters never go back, whatever order states arrive in.
  SchedulerState stale = read_scheduler_state(sched, bm);
  stale.prefix_cache = {};
  stale.num_preemptions = 0;
  metrics.set_scheduler_state(stale);
  CHECK(metrics.snapshot().prefix_cache_hit_blocks == 2);
}

TEST_CASE("metrics: concurrent updates from several threads lose nothing", "[metrics]") {
  EngineMetrics metrics;
  constexpr int kThreads = 6;
  constexpr int kRequestsPerThread = 2000;
  std::atomic<bool> stop_reader{false};
  std::atomic<int> inconsistent{0};
  std::thread reader([&] {
    int64_t last_tokens = 0;
    while (!stop_reader.load()) {
      const EngineMetricsSnapshot s = metrics.snapshot();
      // A snapshot is taken under one lock: each histogram's last cumulative bucket is its count.
      if (s.step_duration.cumulative_counts.back() != s.step_duration.count) ++inconsistent;
      if (s.generation_tokens < last_tokens) ++inconsistent;
      last_tokens = s.generation_tokens;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&metrics, t] {
      const auto t0 = RequestTimer::Clock::time_point{};
      for (int i = 0; i < kRequestsPerThread; ++i) {
        RequestTimer timer(metrics, 10, t0);
        timer.on_tokens(1, t0 + 1ms);
        timer.on_tokens(1, t0 + 2ms);
        timer.on_finished(i % 2 == 0 ? FinishReason::stop : FinishReason::length, t0 + 3ms);
        metrics.observe_step(t + 1, 0.001, 0.0001);
        metrics.observe_queue_time(0.0005);
      }
    });
  }
  for (auto& w : writers) w.join();
  stop_reader = true;
  reader.join();
  CHECK(inconsistent == 0);
  const EngineMetricsSnapshot s = metrics.snapshot();
  const int64_t requests = int64_t{kThreads} * kRequestsPerThread;
  CHECK(s.requests_finished_by(FinishReason::stop) == requests / 2);
  CHECK(s.requests_finished_by(FinishReason::length) == requests / 2);
  CHECK(s.generation_tokens == 2 * requests);
  CHECK(s.prompt_tokens == 10 * requests);
  CHECK(s.time_to_first_token.count == static_cast<uint64_t>(requests));
  CHECK(s.inter_token_latency.count == static_cast<uint64_t>(requests));
  CHECK(s.queue_time.count == static_cast<uint64_t>(requests));
  CHECK(s.batch_tokens.count == static_cast<uint64_t>(requests));
  // Thread t observed t + 1 batched tokens each time: 1 + 2 + ... + 6 = 21 per round.
  CHECK(s.batch_tokens.sum == 21.0 * kRequestsPerThread);
}

namespace {

// A snapshot small enough to write its exposition out by hand: one histogram with two bounds and
// three observations, the others empty (no bounds: only their +Inf bucket).
EngineMetricsSnapshot small_snapshot() {
  EngineMetricsSnapshot s;
  s.num_running = 3;
  s.num_waiting = 1;
  s.kv_blocks_used = 6;
  s.kv_blocks_total = 24;
  s.requests_finished = {2, 1, 0};
  s.prompt_tokens = 30;
  s.generation_tokens = 12;
  s.num_preemptions = 1;
  s.prefix_cache_queried_blocks = 5;
  s.prefix_cache_hit_blocks = 2;
  Histogram ttft({0.25, 1});
  for (double v : {0.125, 0.5, 2.0}) ttft.observe(v);
  s.time_to_first_token = ttft.snapshot();
  return s;
}

std::string empty_histogram(const std::string& name, const std::string& help) {
  return "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n" + name +
         "_bucket{model_name=\"smol\",le=\"+Inf\"} 0\n" + name + "_sum{model_name=\"smol\"} 0\n" + name +
         "_count{model_name=\"smol\"} 0\n";
}

}  // namespace

TEST_CASE("metrics: Prometheus text of a small snapshot", "[metrics]") {
  const std::string expected =
      "# HELP sabre:num_requests_running Sequences running (prefilling or decoding; each sample of an n > 1 request counts).\n"
      "# TYPE sabre:num_requests_running gauge\n"
      "sabre:num_requests_running{model_name=\"smol\"} 3\n"
      "# HELP sabre:num_requests_waiting Requests waiting to be scheduled, preempted ones included.\n"
      "# TYPE sabre:num_requests_waiting gauge\n"
      "sabre:num_requests_waiting{model_name=\"smol\"} 1\n"
      "# HELP sabre:kv_cache_blocks_used KV cache blocks in use.\n"
      "# TYPE sabre:kv_cache_blocks_used gauge\n"
      "sabre:kv_cache_blocks_used{model_name=\"smol\"} 6\n"
      "# HELP sabre:kv_cache_blocks_total KV cache blocks in the pool.\n"
      "# TYPE sabre:kv_cache_blocks_total gauge\n"
      "sabre:kv_cache_blocks_total{model_name=\"smol\"} 24\n"
      "# HELP sabre:kv_cache_usage_perc Fraction of the KV cache blocks in use (1 means full).\n"
      "# TYPE sabre:kv_cache_usage_perc gauge\n"
      "sabre:kv_cache_usage_perc{model_name=\"smol\"} 0.25\n"
      "# HELP sabre:request_success_total Finished requests by finish reason (stop, length, abort).\n"
      "# TYPE sabre:request_success_total counter\n"
      "sabre:request_success_total{model_name=\"smol\",finished_reason=\"stop\"} 2\n"
      "sabre:request_success_total{model_name=\"smol\",finished_reason=\"length\"} 1\n"
      "sabre:request_success_total{model_name=\"smol\",finished_reason=\"abort\"} 0\n"
      "# HELP sabre:prompt_tokens_total Prompt tokens of requests that produced their first token.\n"
      "# TYPE sabre:prompt_tokens_total counter\n"
      "sabre:prompt_tokens_total{model_name=\"smol\"} 30\n"
      "# HELP sabre:generation_tokens_total Generated tokens.\n"
      "# TYPE sabre:generation_tokens_total counter\n"
      "sabre:generation_tokens_total{model_name=\"smol\"} 12\n"
      "# HELP sabre:num_preemptions_total Sequences preempted (freed, to be recomputed) for lack of KV blocks.\n"
      "# TYPE sabre:num_preemptions_total counter\n"
      "sabre:num_preemptions_total{model_name=\"smol\"} 1\n"
      "# HELP sabre:prefix_cache_queried_blocks_total Full prompt blocks looked up in the prefix cache.\n"
      "# TYPE sabre:prefix_cache_queried_blocks_total counter\n"
      "sabre:prefix_cache_queried_blocks_total{model_name=\"smol\"} 5\n"
      "# HELP sabre:prefix_cache_hit_blocks_total Prompt blocks served from the prefix cache (KV reused; "
      "recomputation after preemption is not a hit).\n"
      "# TYPE sabre:prefix_cache_hit_blocks_total counter\n"
      "sabre:prefix_cache_hit_blocks_total{model_name=\"smol\"} 2\n"
      "# HELP sabre:time_to_first_token_seconds Time from arrival to the first generated token.\n"
      "# TYPE sabre:time_to_first_token_seconds histogram\n"
      "sabre:time_to_first_token_seconds_bucket{model_name=\"smol\",le=\"0.25\"} 1\n"
      "sabre:time_to_first_token_seconds_bucket{model_name=\"smol\",le=\"1\"} 2\n"
      "sabre:time_to_first_token_seconds_bucket{model_name=\"smol\",le=\"+Inf\"} 3\n"
      "sabre:time_to_first_token_seconds_sum{model_name=\"smol\"} 2.625\n"
      "sabre:time_to_first_token_seconds_count{model_name=\"smol\"} 3\n" +
      empty_histogram("sabre:inter_token_latency_seconds", "Time between consecutive token arrivals of a request.") +
      empty_histogram("sabre:e2e_request_latency_seconds", "Time from arrival to finish.") +
      empty_histogram("sabre:request_queue_time_seconds", "Time from arrival to first being scheduled.") +
      empty_histogram("sabre:request_prompt_tokens", "Prompt tokens per finished request.") +
      empty_histogram("sabre:request_generation_tokens", "Generated tokens per finished request.") +
      empty_histogram("sabre:step_batched_tokens", "Tokens computed per engine step (prefill chunks and decodes).") +
      empty_histogram("sabre:step_duration_seconds", "Model time per engine step (forward pass and sampling).") +
      empty_histogram("sabre:step_overhead_seconds", "Time per engine step not spent in the model (planning, messaging).");
  CHECK(render_prometheus(small_snapshot(), "smol") == expected);
}

TEST_CASE("metrics: Prometheus text escapes the model name and is well formed with real buckets", "[metrics]") {
  EngineMetrics metrics;
  RequestTimer timer(metrics, 5, RequestTimer::Clock::time_point{});
  timer.on_tokens(1, RequestTimer::Clock::time_point{} + 30ms);
  timer.on_finished(FinishReason::stop, RequestTimer::Clock::time_point{} + 40ms);
  const std::string text = render_prometheus(metrics.snapshot(), "a\"b\\c\nd");
  CHECK_THAT(text, Catch::Contains("{model_name=\"a\\\"b\\\\c\\nd\"}"));

  // Every line is a comment or `name{labels} value`; bucket counts never decrease and the +Inf
  // bucket equals the count.
  const std::regex sample(R"(^(sabre:[a-z0-9_]+)\{model_name="(?:[^"\\]|\\.)*"(?:,[a-z_]+="[^"]*")?\} (\S+)$)");
  std::istringstream lines(text);
  std::string line;
  std::string last_bucket_metric;
  double last_bucket = 0;
  int types = 0;
  while (std::getline(lines, line)) {
    INFO(line);
    if (line.rfind("# TYPE ", 0) == 0) ++types;
    if (line.rfind("# ", 0) == 0) continue;
    std::smatch m;
    REQUIRE(std::regex_match(line, m, sample));
    const std::string name = m[1];
    const double value = std::stod(m[2]);
    if (name.size() > 7 && name.compare(name.size() - 7, 7, "_bucket") == 0) {
      if (name == last_bucket_metric) CHECK(value >= last_bucket);
      last_bucket_metric = name;
      last_bucket = value;
    }
  }
  CHECK(types == 5 + 6 + 9);
  CHECK_THAT(text, Catch::Contains("sabre:time_to_first_token_seconds_bucket{model_name=\"a\\\"b\\\\c\\nd\",le=\"0.025\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("sabre:time_to_first_token_seconds_bucket{model_name=\"a\\\"b\\\\c\\nd\",le=\"0.05\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("sabre:time_to_first_token_seconds_bucket{model_name=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("sabre:request_success_total{model_name=\"a\\\"b\\\\c\\nd\",finished_reason=\"stop\"} 1\n"));
}
