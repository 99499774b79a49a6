#pragma once
// sabre-loadtest's command line. Every mistake is a UsageError naming the flag (exit code 2); nothing
// touches the network or the dataset file while parsing.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "dataset.hpp"
#include "http_url.hpp"
#include "request_body.hpp"

namespace sabre::loadtest {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Options {
  HttpUrl url = parse_http_url("http://127.0.0.1:8081");
  std::optional<std::string> api_key;
  int64_t num_requests = 0;
  std::optional<double> request_rate;     // requests per second (Poisson); absent: all at once
  std::optional<int64_t> max_concurrency; // absent: no cap
  // --dataset: either random (random_spec) or sharegpt (sharegpt_path)
  bool dataset_random = true;
  RandomDatasetSpec random_spec;
  std::string sharegpt_path;
  std::string dataset_text;               // as given, for the report
  uint64_t seed = 0;
  std::optional<std::string> json_path;
  std::optional<std::string> model;
  std::string endpoint = "/v1/completions";
  ApiKind api = ApiKind::completions;
  bool ignore_eos = false;                // forced on for random datasets
  double timeout_s = 600;                 // longest silence on a connection before the request fails
  bool progress = true;
  bool help = false;
};

Options parse_options(int argc, const char* const* argv);
std::string usage_text();

}  // namespace sabre::loadtest
