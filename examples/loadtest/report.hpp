#pragma once
// The figures of a run and their two spellings: a table for people (stdout) and JSON for scripts.
// Latencies are in milliseconds. TPOT is per request, (e2e - TTFT) / (output tokens - 1), for requests
// with at least two output tokens; ITL pools the gaps between successive chunks with text of all
// successful requests (a chunk that carries several tokens counts as one gap).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dataset.hpp"
#include "request_outcome.hpp"
#include "statistics.hpp"

namespace sabre::loadtest {

// The run's settings, echoed in both outputs.
struct ReportHeader {
  std::string url, endpoint, dataset;
  std::optional<std::string> model;
  int64_t num_requests = 0;
  std::optional<double> request_rate;
  std::optional<int64_t> max_concurrency;
  uint64_t seed = 0;
};

struct BenchmarkReport {
  double duration_s = 0;
  size_t completed = 0, failed = 0;
  std::vector<std::string> first_errors;  // up to kMaxErrorsShown, in request order
  int64_t total_input_tokens = 0;         // server's usage.prompt_tokens where sent, else the dataset's
  int64_t total_output_tokens = 0;
  int64_t expected_output_tokens = 0;     // the max_tokens asked of the completed requests
  size_t requests_with_usage = 0;         // completed requests whose token count came from usage
  double request_throughput = 0;          // completed requests per second
  double output_throughput = 0;           // output tokens per second
  double total_token_throughput = 0;      // (input + output) tokens per second
  int64_t peak_in_flight = 0;
  size_t connections_opened = 0;
  Summary ttft_ms, tpot_ms, itl_ms, e2e_ms;
};

inline constexpr size_t kMaxErrorsShown = 5;

// `prompts[i]` is what request i sent.
BenchmarkReport make_report(const std::vector<RequestOutcome>& outcomes, const std::vector<BenchPrompt>& prompts,
                            double duration_s);

std::string format_table(const ReportHeader& header, const BenchmarkReport& report);
std::string format_json(const ReportHeader& header, const BenchmarkReport& report);

}  // namespace sabre::loadtest
