#include <catch2/catch.hpp>
#include <simdjson.h>

#include "progress_bar.hpp"
#include "report.hpp"

using namespace sabre::loadtest;

namespace {

RequestOutcome ok(double ttft, double e2e, std::vector<double> itl, int64_t chunks, std::optional<int64_t> usage) {
  RequestOutcome o;
  o.success = true;
  o.ttft_s = ttft;
  o.e2e_s = e2e;
  o.itl_s = std::move(itl);
  o.content_chunks = chunks;
  o.usage_completion_tokens = usage;
  return o;
}

}  // namespace

TEST_CASE("report: throughput, TTFT, TPOT, ITL, failures", "[loadtest][report]") {
  std::vector<BenchPrompt> prompts(3);
  for (auto& p : prompts) {
    p.input_tokens = 10;
    p.output_tokens = 5;
  }
  std::vector<RequestOutcome> outcomes;
  // 5 tokens counted by usage, in 3 chunks: TPOT = (0.9 - 0.1) / 4 = 0.2 s
  outcomes.push_back(ok(0.1, 0.9, {0.3, 0.5}, 3, 5));
  outcomes.back().usage_prompt_tokens = 12;
  // no usage: 5 chunks = 5 tokens; TPOT = (0.7 - 0.3) / 4 = 0.1 s
  outcomes.push_back(ok(0.3, 0.7, {0.1, 0.1, 0.1, 0.1}, 5, std::nullopt));
  RequestOutcome failed;
  failed.error = "HTTP 503: busy";
  outcomes.push_back(failed);

  const BenchmarkReport r = make_report(outcomes, prompts, 2.0);
  REQUIRE(r.completed == 2);
  REQUIRE(r.failed == 1);
  REQUIRE(r.first_errors == std::vector<std::string>{"request 2: HTTP 503: busy"});
  REQUIRE(r.total_output_tokens == 10);
  REQUIRE(r.expected_output_tokens == 10);
  REQUIRE(r.total_input_tokens == 22);  // usage's 12 + the dataset's 10
  REQUIRE(r.requests_with_usage == 1);
  REQUIRE(r.request_throughput == Approx(1.0));
  REQUIRE(r.output_throughput == Approx(5.0));
  REQUIRE(r.total_token_throughput == Approx(16.0));
  REQUIRE(r.ttft_ms.count == 2);
  REQUIRE(r.ttft_ms.mean == Approx(200));
  REQUIRE(r.tpot_ms.mean == Approx(150));
  REQUIRE(r.tpot_ms.max == Approx(200));
  REQUIRE(r.itl_ms.count == 6);
  REQUIRE(r.itl_ms.max == Approx(500));
  REQUIRE(r.e2e_ms.p50 == Approx(800));

  ReportHeader header{"http://127.0.0.1:8081", "/v1/completions", "random:10:5", std::nullopt, 3, 2.5, 4, 9};
  const std::string table = format_table(header, r);
  REQUIRE_THAT(table, Catch::Contains("Successful requests") && Catch::Contains("Failed requests") &&
                          Catch::Contains("request 2: HTTP 503: busy") &&
                          Catch::Contains("Time to first token (ms, 2 samples)") &&
                          Catch::Contains("Output token throughput (tok/s)"));

  simdjson::dom::parser parser;
  const std::string json = format_json(header, r);
  simdjson::dom::element root = parser.parse(json);
  REQUIRE(int64_t(root["completed"]) == 2);
  REQUIRE(int64_t(root["failed"]) == 1);
  REQUIRE(double(root["output_throughput"]) == Approx(5.0));
  REQUIRE(double(root["ttft_ms"]["p50"]) == Approx(200));
  REQUIRE(double(root["tpot_ms"]["p99"]) == Approx(199.0));
  REQUIRE(int64_t(root["itl_ms"]["count"]) == 6);
  REQUIRE(std::string_view(root["errors"].at(0)) == "request 2: HTTP 503: busy");
  REQUIRE(double(root["config"]["request_rate"]) == 2.5);
  REQUIRE(int64_t(root["config"]["max_concurrency"]) == 4);
  REQUIRE(root["config"]["model"].is_null());
}

TEST_CASE("report: nothing succeeded gives null latencies and only the first five errors", "[loadtest][report]") {
  std::vector<BenchPrompt> prompts(8);
  std::vector<RequestOutcome> outcomes(8);
  for (size_t i = 0; i < outcomes.size(); ++i) outcomes[i].error = "refused " + std::to_string(i);
  const BenchmarkReport r = make_report(outcomes, prompts, 1.0);
  REQUIRE(r.completed == 0);
  REQUIRE(r.first_errors.size() == kMaxErrorsShown);
  REQUIRE(r.first_errors.back() == "request 4: refused 4");
  ReportHeader header{"http://h:1", "/v1/chat/completions", "sharegpt:x.json", std::string("m"), 8, std::nullopt,
                      std::nullopt, 0};
  simdjson::dom::parser parser;
  simdjson::dom::element root = parser.parse(format_json(header, r));
  REQUIRE(root["ttft_ms"].is_null());
  REQUIRE(root["config"]["request_rate"].is_null());
  REQUIRE(root["errors"].get_array().size() == 5);
  REQUIRE_THAT(format_table(header, r), Catch::Contains("(no samples)"));
  REQUIRE_THROWS(make_report(outcomes, std::vector<BenchPrompt>(2), 1.0));
}

TEST_CASE("progress bar line", "[loadtest][report]") {
  REQUIRE(ProgressBar::render(5, 1, 10, 2.25, 10) == "[#####.....] 5/10 done, 1 failed, 2.2 s");
  REQUIRE(ProgressBar::render(10, 0, 10, 3, 4) == "[####] 10/10 done, 0 failed, 3.0 s");
}
