#include "options.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <map>
#include <string_view>

namespace sabre::generate_cli {
namespace {

template <class T>
T parse_number(std::string_view flag, std::string_view text, std::string_view expectation) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    throw UsageError(fmt::format("{} expects {}, got '{}'", flag, expectation, text));
  }
  return value;
}

std::vector<int32_t> parse_ids(std::string_view flag, std::string_view text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = text.substr(start, comma - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    const auto id = parse_number<int64_t>(flag, item, "comma-separated token ids such as 1,2,3");
    if (id < 0 || id > INT32_MAX) throw UsageError(fmt::format("{}: token id {} is out of range", flag, id));
    ids.push_back(static_cast<int32_t>(id));
    start = comma + 1;
  }
  return ids;
}

}  // namespace

std::string usage_text() {
  return R"(usage: sabre-generate --model PATH (--prompt TEXT | --prompt-ids 1,2,3) [options]

Generates text offline on the CPU from a Hugging Face model directory (config.json + safetensors) or a
GGUF file.

  --model PATH         model directory or .gguf file (required)
  --prompt TEXT        prompt text, tokenized with the model's tokenizer (with its BOS, as HF does)
  --prompt-ids IDS     prompt as comma-separated token ids (no tokenizer needed)
  --chat               wrap --prompt as one user message in the model's chat template
  --tokenizer DIR      take tokenizer.json / tokenizer_config.json from DIR instead of the model
  --max-tokens N       most tokens to generate (default 128)
  --temperature T      0 = greedy; default from generation_config.json, else 1.0
  --top-p P            nucleus sampling in (0, 1]; default from generation_config.json, else 1
  --top-k K            keep the K most likely tokens (0 = all); default from generation_config.json
  --seed S             sampling seed (default: random, printed in the log and in --json)
  --ignore-eos         do not stop at end-of-sequence ids
  --device cpu|cuda    where to run (default cpu; cuda: GPU 0 of CUDA_VISIBLE_DEVICES, in --dtype,
                       bf16 for an fp32 checkpoint unless --dtype float32)
  --threads N          CPU threads (default: all; shared out among the ranks)
  --draft-model PATH   (also --draft.model) speculative decoding: this smaller model of the same vocabulary (HF directory or
                       GGUF; the target's own GGUF file works, kept quantised while --gguf-weights f32
                       gives the target its exact weights) proposes tokens the target verifies in one
                       pass; greedy output stays the target's, sampling keeps its distribution
  --speculative-method draft|ngram
                       draft (with --draft-model) or ngram: prompt lookup, proposals copied from where the
                       latest tokens occurred earlier in the prompt or output (no draft model)
  --draft-gguf-weights MODE
                       quantized (default) or f32: a GGUF draft's matrices as stored or dequantised (f32
                       with the target's own file makes the target its own draft: all accepted)
  --decode-algo normal|sps
                       BladeLLM's switch (also --decode_algo): sps is --speculative-method draft
  --speculative-steps K, --gamma K
                       tokens proposed per pass (default 4)
  --tensor-parallel-size N, --tp N
                       cut the model across N ranks, one thread each, as sabre-server does (cpu: Gloo
                       between them; cuda: GPUs 0..N-1, NCCL); N must divide the heads and the MLP
  --batch-invariant    CPU: compute every linear layer with the row-invariant kernels, so each token's
                       result is bit-identical whatever else shares its step (what the serving engine
                       uses); slower prefill than the default OpenBLAS path
  --exact-kernels      CPU: decode quantised matrices with the exact fp32 kernels rather than 8-bit
                       activations and integer dot products (the default: faster, logits off by a
                       bounded amount)
  --gguf-weights MODE  quantized (default): a GGUF file's Q8_0/Q4_1 matrices are multiplied with as
                       stored; f32: every weight is dequantised to fp32 at load
  --dtype TYPE         auto (default: the checkpoint's own, so a bf16 model stays bf16 in memory),
                       bfloat16, float16 or float32: what the weights are kept in (the CPU computes
                       in fp32, a GPU in this type)
  --kv-cache-dtype T   auto (default: fp32 on the CPU), bfloat16, float16, fp8_e4m3 or int8
  --load-format F      auto (default) or dummy: random weights from the model's config.json alone
  --json               print one JSON object: text, token_ids, logprobs, prompt_tokens,
                       completion_tokens, finish_reason, tokens_per_second (decode rate),
                       prompt_tokens_per_second (prefill rate), seed
  --verbose            debug logging on stderr
  --help               this text

Generation stops at any eos id of config.json or generation_config.json (unless --ignore-eos) or after
--max-tokens. Exit codes: 0 success, 1 runtime error (model, tokenizer), 2 bad command line.
)";
}

Options parse_options(int argc, char** argv) {
  Options o;
  bool decode_algo_sps = false;
  enum class Kind { flag, value };
  const std::map<std::string_view, Kind> known = {
      {"--model", Kind::value},      {"--prompt", Kind::value},     {"--prompt-ids", Kind::value},
      {"--tokenizer", Kind::value},  {"--max-tokens", Kind::value}, {"--temperature", Kind::value},
      {"--top-p", Kind::value},      {"--top-k", Kind::value},      {"--seed", Kind::value},
      {"--device", Kind::value},     {"--threads", Kind::value},    {"--ignore-eos", Kind::flag},
      {"--gguf-weights", Kind::value}, {"--batch-invariant", Kind::flag}, {"--exact-kernels", Kind::flag}, {"--dtype", Kind::value},
      {"--kv-cache-dtype", Kind::value}, {"--load-format", Kind::value},
      {"--tensor-parallel-size", Kind::value}, {"--tp", Kind::value},
      {"--draft-model", Kind::value}, {"--draft.model", Kind::value}, {"--speculative-method", Kind::value},
      {"--decode-algo", Kind::value}, {"--decode_algo", Kind::value},
      {"--speculative-steps", Kind::value}, {"--gamma", Kind::value}, {"--draft-gguf-weights", Kind::value},
      {"--chat", Kind::flag},        {"--json", Kind::flag},        {"--verbose", Kind::flag},
      {"--help", Kind::flag},        {"-h", Kind::flag},
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    bool inline_value = false;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      inline_value = true;
    }
    auto it = known.find(arg);
    if (it == known.end()) throw UsageError(fmt::format("unknown option '{}' (see --help)", arg));
    if (it->second == Kind::flag) {
      if (inline_value) throw UsageError(fmt::format("{} takes no value", arg));
    } else if (!inline_value) {
      if (i + 1 >= argc) throw UsageError(fmt::format("{} needs a value", arg));
      value = argv[++i];
    }
    if (arg == "--model") o.model = value;
    else if (arg == "--prompt") o.prompt = std::string(value);
    else if (arg == "--prompt-ids") o.prompt_ids = parse_ids(arg, value);
    else if (arg == "--tokenizer") o.tokenizer_dir = std::string(value);
    else if (arg == "--max-tokens") o.max_tokens = parse_number<int64_t>(arg, value, "a whole number >= 0");
    else if (arg == "--temperature") o.temperature = parse_number<double>(arg, value, "a number >= 0");
    else if (arg == "--top-p") o.top_p = parse_number<double>(arg, value, "a number in (0, 1]");
    else if (arg == "--top-k") o.top_k = parse_number<int64_t>(arg, value, "a whole number >= 0");
    else if (arg == "--seed") o.seed = parse_number<uint64_t>(arg, value, "a whole number >= 0");
    else if (arg == "--device") o.device.device = value;
    else if (arg == "--threads") o.device.threads = parse_number<unsigned>(arg, value, "a whole number >= 0");
    else if (arg == "--gguf-weights") {
      if (value == "quantized") o.weights.gguf = GgufWeights::quantized;
      else if (value == "f32") o.weights.gguf = GgufWeights::f32;
      else throw UsageError(fmt::format("--gguf-weights must be quantized or f32, got '{}'", value));
    }
    else if (arg == "--batch-invariant") o.device.batch_invariant = true;
    else if (arg == "--exact-kernels") o.device.exact_kernels = true;
    else if (arg == "--draft-model" || arg == "--draft.model") o.draft_model = std::string(value);
    else if (arg == "--decode-algo" || arg == "--decode_algo") {
      // BladeLLM's switch: sps is speculative decoding with a draft model.
      if (value == "sps") decode_algo_sps = true;
      else if (value != "normal") throw UsageError(fmt::format("{} must be normal or sps, got '{}'", arg, value));
    }
    else if (arg == "--speculative-method") {
      if (value != "draft" && value != "ngram") {
        throw UsageError(fmt::format("--speculative-method must be draft or ngram, got '{}'", value));
      }
      o.speculative_method = std::string(value);
    }
    else if (arg == "--draft-gguf-weights") {
      if (value == "quantized") o.draft_gguf = GgufWeights::quantized;
      else if (value == "f32") o.draft_gguf = GgufWeights::f32;
      else throw UsageError(fmt::format("--draft-gguf-weights must be quantized or f32, got '{}'", value));
    }
    else if (arg == "--speculative-steps" || arg == "--gamma") {
      o.speculative_steps = parse_number<int32_t>(arg, value, "a whole number >= 1");
      if (o.speculative_steps < 1) throw UsageError(fmt::format("{} must be at least 1, got '{}'", arg, value));
    }
    else if (arg == "--tensor-parallel-size" || arg == "--tp") {
      o.tensor_parallel_size = parse_number<int64_t>(arg, value, "a whole number >= 1");
      if (o.tensor_parallel_size < 1) throw UsageError(fmt::format("{} must be at least 1, got '{}'", arg, value));
    }
    else if (arg == "--load-format") {
      const auto format = parse_load_format(value);
      if (!format) throw UsageError(fmt::format("--load-format must be auto or dummy, got '{}'", value));
      o.weights.load_format = *format;
    }
    else if (arg == "--kv-cache-dtype") {
      const auto dtype = parse_kv_cache_dtype(value);
      if (!dtype) {
        throw UsageError(
            fmt::format("--kv-cache-dtype must be auto, bfloat16, float16, fp8_e4m3 or int8, got '{}'", value));
      }
      o.kv_cache_dtype = *dtype;
    }
    else if (arg == "--dtype") {
      const auto dtype = parse_model_dtype(value);
      if (!dtype) throw UsageError(fmt::format("--dtype must be auto, bfloat16, float16 or float32, got '{}'", value));
      o.weights.dtype = *dtype;
    }
    else if (arg == "--ignore-eos") o.ignore_eos = true;
    else if (arg == "--chat") o.chat = true;
    else if (arg == "--json") o.json = true;
    else if (arg == "--verbose") o.verbose = true;
    else if (arg == "--help" || arg == "-h") o.help = true;
  }
  if (o.help) return o;
  if (o.model.empty()) throw UsageError("--model is required (a model directory or .gguf file)");
  if (o.prompt.has_value() == o.prompt_ids.has_value()) {
    throw UsageError("give exactly one of --prompt TEXT or --prompt-ids 1,2,3");
  }
  if (o.chat && !o.prompt) throw UsageError("--chat needs --prompt TEXT (it renders text through the chat template)");
  if (o.max_tokens < 0) throw UsageError(fmt::format("--max-tokens must be >= 0, got {}", o.max_tokens));
  if (o.temperature && !(*o.temperature >= 0 && std::isfinite(*o.temperature))) {
    throw UsageError(fmt::format("--temperature must be >= 0, got {}", *o.temperature));
  }
  if (o.top_p && !(*o.top_p > 0 && *o.top_p <= 1)) {
    throw UsageError(fmt::format("--top-p must be in (0, 1], got {}", *o.top_p));
  }
  if (o.top_k && *o.top_k < 0) throw UsageError(fmt::format("--top-k must be >= 0, got {}", *o.top_k));
  if (decode_algo_sps) {
    if (o.speculative_method == "ngram") throw UsageError("--decode-algo sps drafts with a model: drop --speculative-method ngram");
    o.speculative_method = "draft";
  }
  if (o.speculative_method.empty() && o.draft_model) o.speculative_method = "draft";
  if (o.speculative_method == "draft" && !o.draft_model) {
    throw UsageError("--speculative-method draft needs --draft-model PATH");
  }
  if (o.speculative_method == "ngram" && o.draft_model) {
    throw UsageError("--speculative-method ngram uses no draft model: drop --draft-model");
  }
  if (!o.speculative_method.empty() && o.tensor_parallel_size > 1) {
    throw UsageError("sabre-generate runs speculative decoding on one rank: drop --tensor-parallel-size");
  }
  if (o.device.device != "cpu" && o.device.device != "cuda") {
    throw UsageError(fmt::format("--device '{}' is unknown (expected cpu or cuda)", o.device.device));
  }
  return o;
}

}  // namespace sabre::generate_cli
