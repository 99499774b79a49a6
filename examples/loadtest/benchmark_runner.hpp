#pragma once
// Drives a whole run: requests leave on a Poisson schedule (--request-rate), at most C at a time
// (--max-concurrency), or both; each is one coroutine on a single Asio thread, so nothing is shared
// across threads and time stamps are taken as soon as bytes arrive.

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "http_url.hpp"
#include "request_outcome.hpp"

namespace sabre::loadtest {

struct RunConfig {
  HttpUrl url;
  std::string endpoint = "/v1/completions";
  std::optional<std::string> api_key;
  std::optional<double> request_rate;      // absent or infinite: no pacing
  std::optional<int64_t> max_concurrency;  // absent: no cap
  uint64_t seed = 0;
  double timeout_s = 600;
};

struct RunResult {
  std::vector<RequestOutcome> outcomes;  // in request order
  double duration_s = 0;                 // first send to last completion
  size_t connections_opened = 0;
  int64_t peak_in_flight = 0;
};

// Called after each completed request with (completed, failed so far).
using ProgressCallback = std::function<void(size_t done, size_t failed)>;

// Sends one request per body. Throws ConnectionError when the server cannot be reached before the
// first request.
RunResult run_benchmark(const RunConfig& config, const std::vector<std::string>& bodies,
                        const ProgressCallback& progress = {});

}  // namespace sabre::loadtest
