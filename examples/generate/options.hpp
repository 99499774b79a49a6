#pragma once
// sabre-generate's command line. Parsing never touches the model: every mistake in the flags is found
// first and reported as a UsageError (exit code 2).

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/checkpoint.hpp"

namespace sabre::generate_cli {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Options {
  std::string model;
  std::optional<std::string> prompt;
  std::optional<std::vector<int32_t>> prompt_ids;
  std::optional<std::string> tokenizer_dir;  // overrides the checkpoint's tokenizer files
  int64_t max_tokens = 128;
  std::optional<double> temperature;  // absent: generation_config.json, else 1.0
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<uint64_t> seed;  // absent: a random seed, logged so the run can be repeated
  bool ignore_eos = false;
  bool chat = false;
  DeviceOptions device;  // --device, --threads, --batch-invariant
  WeightOptions weights;  // --dtype, --gguf-weights
  KvCacheDtype kv_cache_dtype = KvCacheDtype::automatic;
  int64_t tensor_parallel_size = 1;
  // Speculative decoding: a draft model (--draft-model) or prompt lookup (--speculative-method ngram)
  // proposes up to speculative_steps tokens per pass of the target.
  std::optional<std::string> draft_model;
  std::string speculative_method;  // "", "draft" or "ngram"
  int32_t speculative_steps = 4;
  GgufWeights draft_gguf = GgufWeights::quantized;  // a GGUF draft's matrices: kept quantised by default
  bool json = false;
  bool verbose = false;
  bool help = false;
};

// Throws UsageError naming the flag and what it expects.
Options parse_options(int argc, char** argv);
std::string usage_text();

}  // namespace sabre::generate_cli
