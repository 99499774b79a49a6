// The whole client (pool, streaming request, runner) against FakeSseServer on 127.0.0.1.

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <simdjson.h>

#include "arrival_schedule.hpp"

#include "benchmark_runner.hpp"
#include "dataset.hpp"
#include "fake_sse_server.hpp"
#include "http_stream_client.hpp"
#include "report.hpp"
#include "request_body.hpp"

using namespace sabre::loadtest;
using sabre::loadtest::testing::FakeBehaviour;
using sabre::loadtest::testing::FakeSseServer;

namespace {

RunConfig config_for(const FakeSseServer& server) {
  RunConfig config;
  config.url = parse_http_url(fmt::format("http://127.0.0.1:{}", server.port()));
  config.timeout_s = 10;
  return config;
}

std::vector<std::string> random_bodies(size_t count, int64_t out) {
  RandomDatasetSpec spec;
  spec.input_tokens = 8;
  spec.output_tokens = out;
  std::vector<std::string> bodies;
  for (const auto& prompt : make_random_dataset(spec, count, 1)) {
    bodies.push_back(make_request_body(prompt, {ApiKind::completions, std::nullopt, true}));
  }
  return bodies;
}

}  // namespace

TEST_CASE("end to end: TTFT, token counts and ITL of a streamed response over one keep-alive connection", "[loadtest][e2e]") {
  FakeBehaviour behaviour;
  behaviour.first_delay = std::chrono::milliseconds(150);
  behaviour.gap = std::chrono::milliseconds(30);
  behaviour.tokens = 4;
  FakeSseServer server(behaviour);
  RunConfig config = config_for(server);
  config.max_concurrency = 1;
  config.api_key = "sk-test";
  size_t progress_calls = 0;
  const RunResult result = run_benchmark(config, random_bodies(3, 4), [&](size_t done, size_t failed) {
    ++progress_calls;
    CHECK(failed == 0);
    CHECK(done == progress_calls);
  });
  REQUIRE(progress_calls == 3);
  REQUIRE(result.outcomes.size() == 3);
  for (const RequestOutcome& o : result.outcomes) {
    INFO(o.error);
    REQUIRE(o.success);
    REQUIRE(o.usage_completion_tokens == 4);
    REQUIRE(o.usage_prompt_tokens == 5);
    REQUIRE(o.content_chunks == 4);
    REQUIRE(o.output_tokens() == 4);
    // The server waits 150 ms before the first token: the client cannot see it earlier. Only these
    // causal lower bounds are checked: on a loaded machine any chunk may reach the client late, so
    // upper bounds (and the spacing of single gaps) are not the client's to promise.
    REQUIRE(o.ttft_s >= 0.149);
    REQUIRE(o.itl_s.size() == 3);
    // The last token cannot arrive before 150 + 3 x 30 ms.
    double last_token_s = o.ttft_s;
    for (const double gap : o.itl_s) {
      REQUIRE(gap >= 0);
      last_token_s += gap;
    }
    REQUIRE(last_token_s >= 0.239);
    REQUIRE(o.e2e_s >= last_token_s - 1e-9);
  }
  // Closed loop, one at a time: each starts after the previous ended.
  REQUIRE(result.outcomes[1].start_s >= result.outcomes[0].start_s + result.outcomes[0].e2e_s - 1e-3);
  REQUIRE(result.peak_in_flight == 1);
  REQUIRE(result.connections_opened == 1);
  REQUIRE(server.connections_accepted() == 1);  // keep-alive: one connection for all three

  const auto bodies = server.request_bodies();
  REQUIRE(bodies.size() == 3);
  simdjson::dom::parser parser;
  simdjson::dom::element root = parser.parse(bodies[0]);
  REQUIRE(root["prompt"].get_array().size() == 8);
  REQUIRE(int64_t(root["max_tokens"]) == 4);
  REQUIRE(bool(root["ignore_eos"]));
  REQUIRE(server.authorization_headers()[0] == "Bearer sk-test");

  std::vector<BenchPrompt> prompts(3);
  for (auto& p : prompts) p.output_tokens = 4;
  const BenchmarkReport report = make_report(result.outcomes, prompts, result.duration_s);
  REQUIRE(report.total_output_tokens == 12);
  REQUIRE(report.requests_with_usage == 3);
  // TPOT is (e2e - ttft) / (tokens - 1) per request, averaged.
  double tpot_sum_ms = 0;
  for (const RequestOutcome& o : result.outcomes) tpot_sum_ms += (o.e2e_s - o.ttft_s) / 3 * 1000;
  REQUIRE(report.tpot_ms.mean == Approx(tpot_sum_ms / 3));
}

TEST_CASE("end to end: without usage, tokens are counted from chunks and concurrency opens connections",
          "[loadtest][e2e]") {
  FakeBehaviour behaviour;
  behaviour.first_delay = std::chrono::milliseconds(200);
  behaviour.gap = std::chrono::milliseconds(5);
  behaviour.tokens = 6;
  behaviour.usage_in_every_chunk = false;
  FakeSseServer server(behaviour);
  RunConfig config = config_for(server);
  config.max_concurrency = 3;
  const RunResult result = run_benchmark(config, random_bodies(3, 6));
  for (const RequestOutcome& o : result.outcomes) {
    INFO(o.error);
    REQUIRE(o.success);
    REQUIRE_FALSE(o.usage_completion_tokens);
    REQUIRE(o.output_tokens() == 6);
  }
  // Three at once: all three were in flight together, each on its own connection.
  REQUIRE(result.peak_in_flight == 3);
  REQUIRE(result.connections_opened == 3);
  REQUIRE(server.connections_accepted() == 3);
}

TEST_CASE("end to end: a server that closes kept-alive connections costs no failures", "[loadtest][e2e]") {
  FakeBehaviour behaviour;
  behaviour.first_delay = std::chrono::milliseconds(1);
  behaviour.gap = std::chrono::milliseconds(1);
  behaviour.tokens = 2;
  behaviour.close_after_response = true;
  FakeSseServer server(behaviour);
  RunConfig config = config_for(server);
  config.max_concurrency = 3;  // several closed connections pile up in the pool
  const RunResult result = run_benchmark(config, random_bodies(12, 2));
  for (const RequestOutcome& o : result.outcomes) {
    INFO(o.error);
    REQUIRE(o.success);
  }
  REQUIRE(server.request_bodies().size() == 12);
  REQUIRE(server.connections_accepted() >= 12);
}

TEST_CASE("end to end: Poisson pacing spreads the requests out", "[loadtest][e2e]") {
  FakeBehaviour behaviour;
  behaviour.first_delay = std::chrono::milliseconds(1);
  behaviour.gap = std::chrono::milliseconds(1);
  behaviour.tokens = 2;
  FakeSseServer server(behaviour);
  RunConfig config = config_for(server);
  config.request_rate = 20.0;
  config.seed = 5;
  const RunResult result = run_benchmark(config, random_bodies(10, 2));
  const auto offsets = poisson_arrival_offsets(10, 20.0, 5);
  for (size_t i = 0; i < 10; ++i) {
    INFO(i);
    REQUIRE(result.outcomes[i].success);
    // Never before its arrival time; a loaded machine may start it later, so no upper bound.
    REQUIRE(result.outcomes[i].start_s >= offsets[i] - 1e-3);
    if (i > 0) REQUIRE(result.outcomes[i].start_s >= result.outcomes[i - 1].start_s);
  }
  REQUIRE(result.duration_s >= offsets.back() - offsets.front() - 1e-3);
}

TEST_CASE("end to end: failures carry the server's message", "[loadtest][e2e]") {
  SECTION("wrong API key: HTTP 401 with the error object's message") {
    FakeBehaviour behaviour;
    behaviour.api_key = "right";
    FakeSseServer server(behaviour);
    RunConfig config = config_for(server);
    config.max_concurrency = 2;
    config.api_key = "wrong";
    const RunResult result = run_benchmark(config, random_bodies(2, 4));
    for (const RequestOutcome& o : result.outcomes) {
      REQUIRE_FALSE(o.success);
      REQUIRE(o.error == "HTTP 401: invalid API key");
    }
  }
  SECTION("a stream cut short") {
    FakeBehaviour behaviour;
    behaviour.cut_stream_short = true;
    FakeSseServer server(behaviour);
    RunConfig config = config_for(server);
    config.max_concurrency = 1;
    const RunResult result = run_benchmark(config, random_bodies(1, 4));
    REQUIRE_FALSE(result.outcomes[0].success);
    REQUIRE_THAT(result.outcomes[0].error, Catch::Contains("reading the stream"));
  }
}

TEST_CASE("end to end: an unreachable server is a ConnectionError naming the URL", "[loadtest][e2e]") {
  unsigned short port = 0;
  {
    FakeSseServer closed_again({});
    port = closed_again.port();
  }
  RunConfig config;
  config.url = parse_http_url(fmt::format("http://127.0.0.1:{}", port));
  config.max_concurrency = 1;
  REQUIRE_THROWS_AS(run_benchmark(config, {"{}"}), ConnectionError);
  REQUIRE_THROWS_WITH(run_benchmark(config, {"{}"}),
                      Catch::Contains(fmt::format("cannot connect to http://127.0.0.1:{}", port)));
}
