// sabre-loadtest: streams a batch of requests at an OpenAI-compatible server and reports throughput
// and latency (TTFT, TPOT, ITL, end-to-end) as a table and, with --json, as JSON. See --help and
// docs/PERFORMANCE.md ("Load testing").

#include <fmt/format.h>

#include <cstdio>
#include <fstream>

#include "benchmark_runner.hpp"
#include "dataset.hpp"
#include "http_stream_client.hpp"
#include "options.hpp"
#include "progress_bar.hpp"
#include "report.hpp"
#include "request_body.hpp"

namespace {

using namespace sabre::loadtest;

int run(const Options& options) {
  const auto count = static_cast<size_t>(options.num_requests);
  const std::vector<BenchPrompt> prompts = options.dataset_random
                                               ? make_random_dataset(options.random_spec, count, options.seed)
                                               : load_sharegpt(options.sharegpt_path, count, options.seed);
  const RequestBodyOptions body_options{options.api, options.model, options.ignore_eos};
  std::vector<std::string> bodies;
  bodies.reserve(prompts.size());
  for (const BenchPrompt& prompt : prompts) bodies.push_back(make_request_body(prompt, body_options));

  RunConfig config{options.url,        options.endpoint,        options.api_key, options.request_rate,
                   options.max_concurrency, options.seed, options.timeout_s};
  ProgressBar bar(count);
  ProgressCallback progress;
  if (options.progress) progress = [&bar](size_t done, size_t failed) { bar.update(done, failed); };
  const RunResult result = run_benchmark(config, bodies, progress);

  BenchmarkReport report = make_report(result.outcomes, prompts, result.duration_s);
  report.peak_in_flight = result.peak_in_flight;
  report.connections_opened = result.connections_opened;
  const ReportHeader header{options.url.text(), options.endpoint,        options.dataset_text,
                            options.model,      options.num_requests,    options.request_rate,
                            options.max_concurrency, options.seed};
  fmt::print("{}", format_table(header, report));
  std::fflush(stdout);
  if (options.json_path) {
    std::ofstream file(*options.json_path, std::ios::binary);
    file << format_json(header, report);
    if (!file.good()) throw std::runtime_error(fmt::format("{}: cannot write the JSON report", *options.json_path));
  }
  return report.completed > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  try {
    options = parse_options(argc, argv);
  } catch (const UsageError& e) {
    fmt::print(stderr, "sabre-loadtest: {}\nTry 'sabre-loadtest --help'.\n", e.what());
    return 2;
  }
  if (options.help) {
    fmt::print("{}", usage_text());
    return 0;
  }
  try {
    return run(options);
  } catch (const std::exception& e) {
    fmt::print(stderr, "sabre-loadtest: {}\n", e.what());
    return 1;
  }
}
