#include "config/server_options.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>

namespace sabre {

namespace {

// One flag: its canonical name (dashes), the BladeLLM/vLLM spellings that mean the same, whether it takes
// a value, and what it does with it. `flag` is the spelling the user wrote, for messages.
struct FlagSpec {
  std::string name;
  std::vector<std::string> aliases;
  bool takes_value = true;
  std::function<void(ServerOptions&, const std::string& value, const std::string& flag)> apply;
};

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// "--max_num_seqs" -> "max-num-seqs"; "--draft.model" keeps its dot.
std::string normalise(std::string_view flag) {
  std::string out(flag.substr(2));
  std::replace(out.begin(), out.end(), '_', '-');
  return out;
}

int64_t parse_int(const std::string& value, const std::string& flag, int64_t min, int64_t max) {
  int64_t out = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    throw OptionsError(fmt::format("{}: expected an integer, got '{}'", flag, value));
  }
  if (out < min || out > max) {
    throw OptionsError(fmt::format("{}: must be between {} and {}, got {}", flag, min, max, out));
  }
  return out;
}

double parse_double(const std::string& value, const std::string& flag) {
  char* end = nullptr;
  const double out = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(out)) {
    throw OptionsError(fmt::format("{}: expected a number, got '{}'", flag, value));
  }
  return out;
}

bool parse_switch(const std::string& value, const std::string& flag) {
  const std::string v = lower(value);
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  throw OptionsError(fmt::format("{}: expected true or false, got '{}'", flag, value));
}

std::string one_of(const std::string& value, const std::string& flag, std::initializer_list<const char*> choices,
                   bool case_insensitive = true) {
  const std::string v = case_insensitive ? lower(value) : value;
  for (const char* c : choices) {
    if (v == (case_insensitive ? lower(c) : std::string(c))) return c;
  }
  std::string list;
  for (const char* c : choices) list += (list.empty() ? "" : ", ") + std::string(c);
  throw OptionsError(fmt::format("{}: expected one of {}, got '{}'", flag, list, value));
}

const std::vector<FlagSpec>& flag_specs() {
  static const std::vector<FlagSpec> specs = [] {
    std::vector<FlagSpec> s;
    auto value = [&](std::string name, std::vector<std::string> aliases, auto fn) {
      s.push_back(FlagSpec{std::move(name), std::move(aliases), true, fn});
    };
    auto flag = [&](std::string name, std::vector<std::string> aliases, auto fn) {
      s.push_back(FlagSpec{std::move(name), std::move(aliases), false, fn});
    };
    constexpr int64_t kMax = INT64_MAX;
    value("model", {}, [](ServerOptions& o, const std::string& v, const std::string&) { o.engine.model = v; });
    value("port", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.http.port = static_cast<uint16_t>(parse_int(v, f, 0, 65535));
    });
    value("host", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      if (v.empty()) throw OptionsError(fmt::format("{}: must not be empty", f));
      o.http.host = v;
    });
    value("tensor-parallel-size", {"tp"}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.parallel.tensor_parallel_size = parse_int(v, f, 1, 1024);
    });
    value("gpu-memory-utilization", {"max-gpu-memory-utilization"},
          [](ServerOptions& o, const std::string& v, const std::string& f) {
            o.engine.cache.gpu_memory_utilization = parse_double(v, f);
            if (!(o.engine.cache.gpu_memory_utilization > 0.0 && o.engine.cache.gpu_memory_utilization <= 1.0)) {
              throw OptionsError(fmt::format("{}: must be in (0, 1], got {}", f, v));
            }
          });
    value("max-num-batched-tokens", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.scheduler.max_num_batched_tokens = parse_int(v, f, 1, kMax);
    });
    value("max-model-len", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.scheduler.max_model_len = parse_int(v, f, 0, kMax);
    });
    value("max-num-seqs", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.scheduler.max_num_seqs = parse_int(v, f, 1, kMax);
    });
    value("nnodes", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.parallel.nnodes = parse_int(v, f, 1, 1024);
    });
    value("dist-init-addr", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      if (v.find(':') == std::string::npos) throw OptionsError(fmt::format("{}: expected HOST:PORT, got '{}'", f, v));
      o.engine.parallel.dist_init_addr = v;
    });
    value("rank-host", {}, [](ServerOptions& o, const std::string& v, const std::string&) {
      o.engine.parallel.rank_host = v;
    });
    value("on-rank-failure", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      if (v == "stop") {
        o.engine.parallel.on_rank_failure = RankFailurePolicy::stop;
      } else if (v == "restart") {
        o.engine.parallel.on_rank_failure = RankFailurePolicy::restart;
      } else {
        throw OptionsError(fmt::format("{}: expected stop or restart, got '{}'", f, v));
      }
    });
    value("step-timeout", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      const double seconds = parse_double(v, f);
      if (!(seconds > 0)) throw OptionsError(fmt::format("{}: must be above 0 seconds, got {}", f, v));
      o.engine.scheduler.step_timeout_seconds = seconds;
    });
    value("max-waiting", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.scheduler.max_waiting = parse_int(v, f, 1, kMax);
    });
    value("draft-model", {"draft.model"},
          [](ServerOptions& o, const std::string& v, const std::string&) { o.engine.speculative.draft_model = v; });
    value("draft-tokenizer", {"draft.tokenizer-dir"},
          [](ServerOptions& o, const std::string& v, const std::string&) { o.engine.speculative.draft_tokenizer = v; });
    value("speculative-steps", {"gamma"}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.speculative.num_steps = parse_int(v, f, 1, 64);
    });
    value("speculative-max-rows", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.speculative.max_rows = parse_int(v, f, 1, 1 << 20);
    });
    value("speculative-disable-by-batch-size", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.speculative.disable_by_batch_size = parse_int(v, f, 0, 1 << 20);
    });
    value("draft-gguf-weights", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.speculative.draft_gguf = one_of(v, f, {"quantized", "f32"}) == "f32" ? GgufWeights::f32
                                                                                     : GgufWeights::quantized;
    });
    value("speculative-method", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.speculative.method = one_of(v, f, {"draft", "ngram"});
    });
    value("decode-algo", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.decode_algo = one_of(v, f, {"normal", "sps", "look_ahead"});
    });
    value("api-key", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      if (v.empty()) throw OptionsError(fmt::format("{}: must not be empty", f));
      o.http.api_key = v;
    });
    value("served-model-name", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      if (v.empty()) throw OptionsError(fmt::format("{}: must not be empty", f));
      o.engine.served_model_name = v;
    });
    value("device", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.device.device = one_of(v, f, {"cpu", "cuda"});
    });
    value("tokenizer", {"tokenizer-dir"},
          [](ServerOptions& o, const std::string& v, const std::string&) { o.engine.tokenizer = v; });
    value("chat-template", {},
          [](ServerOptions& o, const std::string& v, const std::string&) { o.http.chat_template = v; });
    value("stream-format", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.http.stream_format = one_of(v, f, {"openai", "bladellm"});
    });
    value("tool-call-parser", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.http.tool_call_parser = one_of(v, f, {"auto", "hermes", "llama3_json", "none"});
    });
    value("dtype", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      const auto dtype = parse_model_dtype(v);  // vLLM's and BladeLLM's other spellings too
      if (!dtype) throw OptionsError(fmt::format("{}: expected one of auto, bfloat16, float16, float32, got '{}'", f, v));
      o.engine.weights.dtype = *dtype;
    });
    value("load-format", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      const auto format = parse_load_format(v);
      if (!format) throw OptionsError(fmt::format("{}: expected auto or dummy, got '{}'", f, v));
      o.engine.weights.load_format = *format;
    });
    value("kv-cache-dtype", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      const auto dtype = parse_kv_cache_dtype(v);
      if (!dtype) {
        throw OptionsError(fmt::format("{}: expected one of auto, bfloat16, float16, fp8_e4m3, int8, got '{}'", f, v));
      }
      o.engine.cache.kv_cache_dtype = *dtype;
    });
    flag("disable-prefix-cache", {"disable-prompt-cache", "no-enable-prefix-caching"},
         [](ServerOptions& o, const std::string& v, const std::string& f) {
           o.engine.cache.enable_prefix_caching = !parse_switch(v, f);
         });
    flag("no-async-scheduling", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.scheduler.max_steps_in_flight = parse_switch(v, f) ? 1 : 2;
    });
    flag("exact-kernels", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.device.exact_kernels = parse_switch(v, f);
    });
    flag("disable-cuda-graph", {"enforce-eager"}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.device.enable_cuda_graph = !parse_switch(v, f);
    });
    value("cuda-graph-max-batch-size", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.device.cuda_graph_max_batch_size = parse_int(v, f, 1, kMax);
    });
    value("preempt-strategy", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.preempt_strategy = one_of(v, f, {"AUTO", "RECOMPUTE", "SWAP"});
    });
    value("max-queue-time", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      const double seconds = parse_double(v, f);
      if (seconds <= 0) throw OptionsError(fmt::format("{}: must be above 0 seconds, got {}", f, v));
      o.max_queue_time = seconds;
    });
    value("log-level", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      const std::string level = one_of(v, f, {"trace", "debug", "info", "warn", "warning", "error", "critical",
                                              "fatal", "off"});
      // spdlog's own names.
      o.http.log_level = level == "warning" ? "warn"
                         : level == "error" ? "err"
                         : level == "fatal" ? "critical"
                                            : level;
    });
    value("threads", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.device.threads = static_cast<unsigned>(parse_int(v, f, 0, 4096));
    });
    value("kv-cache-memory", {}, [](ServerOptions& o, const std::string& v, const std::string& f) {
      o.engine.cache.kv_cache_bytes = parse_byte_size(v, f);
      if (o.engine.cache.kv_cache_bytes <= 0) throw OptionsError(fmt::format("{}: must be above 0, got '{}'", f, v));
    });
    flag("help", {}, [](ServerOptions& o, const std::string& v, const std::string& f) { o.help = parse_switch(v, f); });
    flag("version", {},
         [](ServerOptions& o, const std::string& v, const std::string& f) { o.version = parse_switch(v, f); });
    return s;
  }();
  return specs;
}

const FlagSpec* find_flag(const std::string& name) {
  for (const FlagSpec& spec : flag_specs()) {
    if (spec.name == name) return &spec;
    for (const std::string& alias : spec.aliases) {
      if (alias == name) return &spec;
    }
  }
  return nullptr;
}

bool path_exists(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

[[noreturn]] void not_supported(std::string_view what) {
  throw OptionsError(fmt::format("{} is not supported yet", what));
}

}  // namespace

EnvLookup process_environment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (!value) return std::nullopt;
    return std::string(value);
  };
}

int64_t parse_byte_size(std::string_view text, std::string_view flag) {
  const std::string value(text);
  size_t digits = 0;
  while (digits < value.size() && (std::isdigit(static_cast<unsigned char>(value[digits])) || value[digits] == '.')) {
    ++digits;
  }
  const std::string number = value.substr(0, digits);
  std::string unit = lower(value.substr(digits));
  if (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  static const std::map<std::string, double> units = {
      {"", 1.0},          {"b", 1.0},          {"k", 1024.0},       {"kib", 1024.0},     {"kb", 1e3},
      {"m", 1048576.0},   {"mib", 1048576.0},  {"mb", 1e6},         {"g", 1073741824.0}, {"gib", 1073741824.0},
      {"gb", 1e9},        {"t", 1099511627776.0}, {"tib", 1099511627776.0}, {"tb", 1e12}};
  const auto it = units.find(unit);
  char* end = nullptr;
  const double amount = number.empty() ? -1.0 : std::strtod(number.c_str(), &end);
  if (it == units.end() || number.empty() || end != number.c_str() + number.size()) {
    throw OptionsError(fmt::format("{}: expected a size such as 2GiB, 512MiB or 1000000000, got '{}'", flag, text));
  }
  const double bytes = amount * it->second;
  if (!(bytes < 9.0e18)) throw OptionsError(fmt::format("{}: '{}' is too large", flag, text));
  return static_cast<int64_t>(bytes);
}

ServerOptions parse_server_options(const std::vector<std::string>& args, const EnvLookup& env) {
  ServerOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h") {
      options.help = true;
      continue;
    }
    if (arg.size() < 3 || arg.compare(0, 2, "--") != 0) {
      throw OptionsError(fmt::format("unexpected argument '{}': flags start with -- (see --help)", arg));
    }
    const size_t equals = arg.find('=');
    const std::string written = arg.substr(0, equals);  // the flag as the user spelled it
    const FlagSpec* spec = find_flag(normalise(written));
    if (!spec) throw OptionsError(fmt::format("unknown flag {} (see --help)", written));
    std::string value;
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else if (!spec->takes_value) {
      value = "true";
    } else {
      // "--model --port 80": the next flag is not a value (negative numbers have one dash).
      if (i + 1 >= args.size() || (args[i + 1].rfind("--", 0) == 0 && find_flag(normalise(args[i + 1].substr(
                                                                          0, args[i + 1].find('=')))))) {
        throw OptionsError(fmt::format("{} needs a value", written));
      }
      value = args[++i];
    }
    spec->apply(options, value, written);
    options.given.insert(spec->name);
  }
  if (options.http.api_key.empty()) {
    if (auto key = env("SABRE_API_KEY"); key && !key->empty()) options.http.api_key = *key;
  }
  return options;
}

namespace {

// --speculative-method, or BladeLLM's --decode-algo sps, and a draft model: one method, and what it needs.
void validate_speculation(ServerOptions& o) {
  SpeculativeConfig& spec = o.engine.speculative;
  auto given = [&](const char* name) { return o.given.count(name) > 0; };
  if (o.decode_algo == "sps") {
    if (spec.method == "ngram") throw OptionsError("--decode-algo sps drafts with a model: drop --speculative-method ngram");
    spec.method = "draft";
  }
  if (spec.method.empty() && !spec.draft_model.empty()) spec.method = "draft";
  if (spec.method == "draft" && spec.draft_model.empty()) {
    throw OptionsError("--speculative-method draft needs --draft-model PATH (an HF directory or a .gguf file of the "
                       "target's vocabulary)");
  }
  if (spec.method == "ngram" && !spec.draft_model.empty()) {
    throw OptionsError("--speculative-method ngram uses no draft model: drop --draft-model");
  }
  if (!spec.draft_model.empty() && !path_exists(spec.draft_model)) {
    throw OptionsError(fmt::format("--draft-model: {} does not exist", spec.draft_model.string()));
  }
  if (given("draft-tokenizer")) o.warnings.push_back("--draft-tokenizer has no effect: a draft shares the target's tokenizer");
  if (spec.method.empty()) {
    if (given("speculative-steps")) o.warnings.push_back("--speculative-steps has no effect without speculative decoding");
    if (given("speculative-disable-by-batch-size")) {
      o.warnings.push_back("--speculative-disable-by-batch-size has no effect without speculative decoding");
    }
    if (given("draft-gguf-weights")) o.warnings.push_back("--draft-gguf-weights has no effect without --draft-model");
  }
}

}  // namespace

void validate_server_options(ServerOptions& o) {
  auto given = [&](const char* name) { return o.given.count(name) > 0; };
  auto warn = [&](std::string message) { o.warnings.push_back(std::move(message)); };

  if (o.engine.model.empty()) throw OptionsError("--model is required: a Hugging Face model directory or a .gguf file");
  if (!path_exists(o.engine.model)) throw OptionsError(fmt::format("--model: {} does not exist", o.engine.model.string()));
  if (!o.engine.tokenizer.empty() && !path_exists(o.engine.tokenizer)) {
    throw OptionsError(fmt::format("--tokenizer: {} does not exist", o.engine.tokenizer.string()));
  }
  std::error_code ec;
  if (!o.http.chat_template.empty() && !std::filesystem::is_regular_file(o.http.chat_template, ec)) {
    throw OptionsError(fmt::format("--chat-template: {} is not a file", o.http.chat_template.string()));
  }

  const ParallelConfig& parallel = o.engine.parallel;
  if (parallel.nnodes > 1) {
    if (parallel.dist_init_addr.empty()) {
      throw OptionsError(fmt::format("--nnodes {} needs --dist-init-addr HOST:PORT, where the worker nodes join",
                                     parallel.nnodes));
    }
    if (parallel.tensor_parallel_size % parallel.nnodes != 0) {
      throw OptionsError(fmt::format("--nnodes {}: the {} ranks of --tensor-parallel-size must divide evenly among the "
                                     "nodes",
                                     parallel.nnodes, parallel.tensor_parallel_size));
    }
  }
  validate_speculation(o);
  if (o.decode_algo == "look_ahead") not_supported("--decode-algo look_ahead");
  if (o.preempt_strategy == "SWAP") not_supported("--preempt-strategy SWAP (the engine recomputes preempted requests)");

  // float32 means every weight in fp32: GGUF's quantised matrices too.
  if (o.engine.weights.dtype == ModelDtype::float32) o.engine.weights.gguf = GgufWeights::f32;
  const bool gpu = o.engine.device.device == "cuda";
  if (!gpu && given("gpu-memory-utilization")) {
    warn("--gpu-memory-utilization has no effect on the CPU backend: size the KV cache with --kv-cache-memory");
  }
  if (!gpu && given("cuda-graph-max-batch-size")) warn("--cuda-graph-max-batch-size has no effect on the CPU backend");
  if (gpu && given("kv-cache-memory")) {
    warn("--kv-cache-memory has no effect on a GPU: the KV cache takes --gpu-memory-utilization of its memory");
  }
  if (o.max_queue_time) warn("--max-queue-time is not enforced yet: waiting requests are bounded by --max-waiting");
}

ServerOptions server_options_from_command_line(int argc, const char* const* argv, const EnvLookup& env) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  ServerOptions options = parse_server_options(args, env);
  if (!options.help && !options.version) validate_server_options(options);
  return options;
}

std::string server_help_text(std::string_view program) {
  return fmt::format(R"(Usage: {} --model PATH [options]

Serves a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models,
/health, /metrics, /tokenize, /detokenize). Flags accept dashes or underscores, and --flag VALUE or
--flag=VALUE.

Model:
  --model PATH                    Hugging Face model directory or .gguf file (required)
  --tokenizer DIR                 directory with tokenizer.json, when not beside the model [--tokenizer_dir]
  --served-model-name NAME        the name clients use (default: the model path's file name)
  --chat-template FILE            Jinja chat template replacing the model's own [--chat_template]
  --dtype auto|bfloat16|float16|float32
                                  what the weights are kept in: auto (default) is the checkpoint's own type
                                  (a bf16 model stays bf16; GGUF Q8_0/Q4_1 matrices stay quantised);
                                  float32 also dequantises GGUF matrices. The CPU computes in float32; a
                                  GPU in this type (bf16 for an fp32 checkpoint unless float32 is asked for)
  --load-format auto|dummy        dummy: random weights of the model's shapes from config.json alone, to
                                  measure speed and memory without the weight files
  --max-model-len L               prompt + completion tokens at most (default: the model's context)

HTTP:
  --host ADDRESS                  address to listen on (default 0.0.0.0)
  --port N                        port (default 8081; 0 picks a free one)
  --api-key TOKEN                 require "Authorization: TOKEN" or "Bearer TOKEN" on /v1/* (default: env
                                  SABRE_API_KEY; none when unset)
  --log-level LEVEL               trace, debug, info (default), warning, error, critical, off
  --stream-format openai|bladellm one format for both endpoints' streams (default: chat streams as
                                  OpenAI's, usage only in a final chunk with stream_options.include_usage;
                                  completion streams as BladeLLM's, usage in every chunk, finish_reason ""
                                  until the last, error_info)
  --tool-call-parser P            how tool calls are read from a chat answer with tool_choice "auto":
                                  auto (default: the chat template's format), hermes (<tool_call> blocks,
                                  Qwen), llama3_json (JSON calls, Llama 3.1/3.2) or none

Engine:
  --device cpu|cuda               compute device (default cpu; cuda: GPU 0 of CUDA_VISIBLE_DEVICES)
  --threads N                     CPU threads for the forward pass (default 0: all)
  --exact-kernels                 CPU: decode quantised matrices with the exact fp32 kernels instead of
                                  8-bit activations and integer dot products (faster; logits off by a
                                  bounded amount)
  --kv-cache-memory SIZE          KV cache budget on the CPU, e.g. 2GiB, 512MiB (default 1GiB)
  --kv-cache-dtype TYPE           auto (default: fp32 on the CPU), bfloat16, float16, fp8_e4m3 or int8 (the
                                  8-bit types keep a scale per token and kv head: ~3.6x the tokens of fp32)
  --max-num-batched-tokens N      token budget of one step, the prefill chunk size (default 2048)
  --max-num-seqs N                running sequences at most (default 256)
  --max-waiting N                 waiting requests at most, beyond that 503 (default 1024)
  --disable-prefix-cache          do not reuse the KV blocks of shared prompt prefixes [--disable_prompt_cache]
  --no-async-scheduling           plan each step only after the previous one finished (default: step N+1 is
                                  planned while step N runs)
  --step-timeout SECONDS          a step the ranks have not finished this long after it was sent fails the
                                  engine like a failed rank (default 600)
  --tensor-parallel-size N        [--tensor_parallel_size, --tp] cut the model across N ranks, one thread
                                  each (cpu: the threads shared out; cuda: GPUs 0..N-1); N must divide the
                                  attention heads and the MLP, and divide or be a multiple of the kv heads
  --nnodes M                      spread the ranks over M processes or machines, N/M each: this server is
                                  node 0; nodes 1..M-1 are sabre-worker processes (docs/DEPLOYMENT.md)
  --dist-init-addr HOST:PORT      where this server waits for the worker nodes to join (with --nnodes)
  --rank-host ADDRESS             the address other nodes reach this node's ranks at (default: the host of
                                  --dist-init-addr)
  --on-rank-failure stop|restart  when a rank fails or times out, running requests end with an error, then
                                  stop: the server exits 1 (default); restart: the ranks are loaded again
                                  and new requests are answered 503 until they are

GPU (--device cuda):
  --gpu-memory-utilization F      [--max_gpu_memory_utilization] share of (device memory - weights) the KV
                                  cache takes after a profiling step (default 0.85)
  --disable-cuda-graph            [--disable_cuda_graph] launch every kernel of every step
  --cuda-graph-max-batch-size N   [--cuda_graph_max_batch_size] steps of up to N rows replay recorded graphs
                                  (default: --max-num-seqs)

Speculative decoding (the same output, fewer target passes; steps are planned one at a time):
  --draft-model PATH              [--draft.model] a smaller model of the target's vocabulary (HF directory
                                  or .gguf) proposes tokens greedily on rank 0 with a KV cache of its own
                                  in the same blocks; the target verifies them in one pass
  --draft-gguf-weights quantized|f32  a GGUF draft's matrices as stored (default) or widened to f32
  --speculative-method draft|ngram draft (with --draft-model; the default when one is given) or ngram:
                                  prompt lookup, proposals copied from where the latest tokens occurred
                                  earlier in the prompt or output (no draft model)
  --speculative-steps K           [--gamma] tokens proposed per decode (default 4)
  --speculative-max-rows N        the rows a step's speculative decodes take together at most (default 16:
                                  n running sequences propose up to N/n - 1 tokens each)
  --speculative-disable-by-batch-size N
                                  no proposals while more than N sequences run (0: at any batch size)
  --decode-algo normal|sps        BladeLLM's switch: sps is --speculative-method draft

Accepted for compatibility (features not supported yet or without effect here):
  --draft-tokenizer DIR           [--draft.tokenizer_dir] no effect: a draft uses the target's tokenizer
  --decode-algo look_ahead        not supported
  --preempt-strategy AUTO|RECOMPUTE|SWAP  [--preempt_strategy] the engine recomputes; SWAP is not supported
  --max-queue-time SECONDS        [--max_queue_time] not enforced yet

  -h, --help                      this text
  --version                       the version
)",
                     program);
}

}  // namespace sabre
