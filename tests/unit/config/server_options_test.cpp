// sabre-server's command line: flags with dashes or underscores, --flag=value, BladeLLM aliases, the
// API key from the environment, validation messages that name the flag, and --help.

#include <catch2/catch.hpp>

#include <algorithm>

#include <map>

#include "config/server_options.hpp"

using namespace sabre;

namespace {

const std::string kModel = std::string(SABRE_TEST_FIXTURES) + "/models/llama_gqa_bf16";

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

ServerOptions parse(std::vector<std::string> args, EnvLookup env = env_of({})) {
  ServerOptions options = parse_server_options(args, env);
  validate_server_options(options);
  return options;
}

std::string parse_failure(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const OptionsError& e) {
    return e.what();
  }
  FAIL("expected an OptionsError");
  return "";
}

}  // namespace

TEST_CASE("server options: defaults", "[options]") {
  const ServerOptions o = parse({"--model", kModel});
  CHECK(o.engine.model == kModel);
  CHECK(o.http.port == 8081);
  CHECK(o.http.host == "0.0.0.0");
  CHECK(o.http.api_key.empty());
  CHECK(o.http.log_level == "info");
  CHECK(o.engine.device.device == "cpu");
  CHECK(o.engine.scheduler.max_num_batched_tokens == 2048);
  CHECK(o.engine.scheduler.max_model_len == 0);
  CHECK(o.engine.cache.kv_cache_bytes == (int64_t{1} << 30));
  CHECK(o.engine.cache.enable_prefix_caching);
  CHECK(o.engine.scheduler.max_steps_in_flight == 2);  // async scheduling by default
  CHECK(o.engine.weights.gguf == GgufWeights::quantized);
  CHECK(o.engine.parallel.tensor_parallel_size == 1);
  CHECK(o.engine.cache.gpu_memory_utilization == 0.85);
  CHECK(o.engine.speculative.num_steps == 4);
  CHECK(o.warnings.empty());
  CHECK_FALSE(o.help);
}

TEST_CASE("server options: every flag, dashes and --flag=value", "[options]") {
  const ServerOptions o = parse({"--model=" + kModel, "--port", "9000", "--host=127.0.0.1", "--max-num-batched-tokens",
                                 "512", "--max-model-len=1024", "--max-num-seqs", "8", "--max-waiting", "3",
                                 "--api-key", "sk-1", "--served-model-name", "smol", "--device", "cpu", "--tokenizer",
                                 kModel, "--dtype", "float32", "--disable-prefix-cache", "--log-level", "DEBUG",
                                 "--threads", "2", "--kv-cache-memory", "2GiB", "--tensor-parallel-size", "1",
                                 "--disable-cuda-graph", "--no-async-scheduling"});
  CHECK(o.http.port == 9000);
  CHECK(o.engine.scheduler.max_steps_in_flight == 1);
  CHECK(o.http.host == "127.0.0.1");
  CHECK(o.engine.scheduler.max_num_batched_tokens == 512);
  CHECK(o.engine.scheduler.max_model_len == 1024);
  CHECK(o.engine.scheduler.max_num_seqs == 8);
  CHECK(o.engine.scheduler.max_waiting == 3);
  CHECK(o.http.api_key == "sk-1");
  CHECK(o.engine.served_model_name == "smol");
  CHECK(o.engine.tokenizer == kModel);
  CHECK(o.engine.weights.dtype == ModelDtype::float32);
  CHECK(o.engine.weights.gguf == GgufWeights::f32);
  CHECK_FALSE(o.engine.cache.enable_prefix_caching);
  CHECK(o.http.log_level == "debug");
  CHECK(o.engine.device.threads == 2);
  CHECK(o.engine.cache.kv_cache_bytes == (int64_t{2} << 30));
  CHECK_FALSE(o.engine.device.enable_cuda_graph);
}

TEST_CASE("server options: tensor parallelism and what a failed rank does", "[options]") {
  ServerOptions o = parse({"--model", kModel, "--tp", "4", "--on-rank-failure", "restart"});
  CHECK(o.engine.parallel.tensor_parallel_size == 4);
  CHECK(o.engine.parallel.on_rank_failure == RankFailurePolicy::restart);
  validate_server_options(o);
  o = parse({"--model", kModel, "--tensor-parallel-size=2"});
  CHECK(o.engine.parallel.on_rank_failure == RankFailurePolicy::stop);
  CHECK_THROWS_WITH(parse({"--model", kModel, "--on-rank-failure", "retry"}),
                    Catch::Contains("--on-rank-failure") && Catch::Contains("stop or restart"));
  CHECK_THROWS_WITH(parse({"--model", kModel, "--tp", "0"}), Catch::Contains("--tp"));
}

TEST_CASE("server options: underscores and BladeLLM's spellings", "[options]") {
  const ServerOptions o =
      parse({"--model", kModel, "--tensor_parallel_size", "1", "--max_gpu_memory_utilization", "0.5", "--decode_algo",
             "normal", "--gamma", "6", "--disable_prompt_cache", "--preempt_strategy", "recompute", "--max_queue_time",
             "30", "--tokenizer_dir", kModel, "--dtype", "bfloat16", "--disable_cuda_graph",
             "--cuda_graph_max_batch_size", "64", "--log_level", "warning", "--max_num_seqs", "4",
             "--draft.tokenizer_dir", "/nowhere", "--kv_cache_dtype", "fp8"});
  CHECK(o.engine.cache.gpu_memory_utilization == 0.5);
  CHECK(o.engine.speculative.num_steps == 6);
  CHECK_FALSE(o.engine.cache.enable_prefix_caching);
  CHECK(o.preempt_strategy == "RECOMPUTE");
  CHECK(o.max_queue_time == 30.0);
  CHECK(o.engine.tokenizer == kModel);
  CHECK(o.engine.weights.dtype == ModelDtype::bfloat16);
  CHECK(o.engine.cache.kv_cache_dtype == KvCacheDtype::fp8_e4m3);
  CHECK_FALSE(o.engine.device.enable_cuda_graph);
  CHECK(o.engine.device.cuda_graph_max_batch_size == 64);
  CHECK(o.http.log_level == "warn");
  CHECK(o.engine.scheduler.max_num_seqs == 4);
  CHECK(o.engine.speculative.draft_tokenizer == "/nowhere");
  // Accepted without effect here: each is a warning the server logs.
  auto warned = [&](const std::string& flag) {
    for (const auto& w : o.warnings) {
      if (w.find(flag) != std::string::npos) return true;
    }
    return false;
  };
  CHECK_FALSE(warned("--dtype"));  // the weights are kept in bf16: it has an effect
  CHECK(warned("--gpu-memory-utilization"));
  CHECK(warned("--cuda-graph-max-batch-size"));
  CHECK(warned("--max-queue-time"));
  CHECK(warned("--speculative-steps"));
  CHECK(warned("--draft-tokenizer"));
}

TEST_CASE("server options: on --device cuda the GPU flags act and the CPU budget is the one warned about",
          "[options]") {
  const ServerOptions o = parse({"--model", kModel, "--device", "cuda", "--gpu-memory-utilization", "0.9",
                                 "--cuda-graph-max-batch-size", "32", "--kv-cache-memory", "2GiB"});
  const auto warned = [&](const std::string& flag) {
    return std::any_of(o.warnings.begin(), o.warnings.end(),
                       [&](const std::string& w) { return w.rfind(flag, 0) == 0; });  // a warning about it
  };
  CHECK(o.engine.device.device == "cuda");
  CHECK(o.engine.cache.gpu_memory_utilization == 0.9);
  CHECK_FALSE(warned("--gpu-memory-utilization"));
  CHECK_FALSE(warned("--cuda-graph-max-batch-size"));
  CHECK(warned("--kv-cache-memory"));
}

TEST_CASE("server options: a seed-style BladeLLM command line works", "[options]") {
  const ServerOptions o = parse({"--port", "8081", "--model", kModel});
  CHECK(o.http.port == 8081);
  CHECK(o.engine.model == kModel);
}

TEST_CASE("server options: the API key from SABRE_API_KEY unless the flag is given", "[options]") {
  CHECK(parse({"--model", kModel}, env_of({{"SABRE_API_KEY", "from-env"}})).http.api_key == "from-env");
  CHECK(parse({"--model", kModel, "--api-key=flag"}, env_of({{"SABRE_API_KEY", "from-env"}})).http.api_key == "flag");
  CHECK(parse({"--model", kModel}, env_of({{"SABRE_API_KEY", ""}})).http.api_key.empty());
}

TEST_CASE("server options: byte sizes", "[options]") {
  CHECK(parse_byte_size("2GiB", "--kv-cache-memory") == (int64_t{2} << 30));
  CHECK(parse_byte_size("512MiB", "--kv-cache-memory") == (int64_t{512} << 20));
  CHECK(parse_byte_size("1.5G", "--kv-cache-memory") == (int64_t{3} << 29));
  CHECK(parse_byte_size("2GB", "--kv-cache-memory") == 2000000000);
  CHECK(parse_byte_size("64k", "--kv-cache-memory") == 65536);
  CHECK(parse_byte_size("1000", "--kv-cache-memory") == 1000);
  CHECK_THROWS_WITH(parse_byte_size("lots", "--kv-cache-memory"), Catch::Contains("--kv-cache-memory"));
  CHECK_THROWS_AS(parse_byte_size("2XB", "--kv-cache-memory"), OptionsError);
  CHECK_THROWS_AS(parse_byte_size("", "--kv-cache-memory"), OptionsError);
  CHECK_THROWS_AS(parse_byte_size("1e30", "--kv-cache-memory"), OptionsError);
  CHECK_THROWS_AS(parse_byte_size("99999999TiB", "--kv-cache-memory"), OptionsError);
}

TEST_CASE("server options: errors name the flag", "[options]") {
  using Catch::Contains;
  CHECK_THAT(parse_failure({"--model", kModel, "--bogus", "1"}), Contains("unknown flag --bogus"));
  CHECK_THAT(parse_failure({"--model", kModel, "--max_bogus_flag"}), Contains("--max_bogus_flag"));
  CHECK_THAT(parse_failure({"--model", kModel, "extra"}), Contains("'extra'"));
  CHECK_THAT(parse_failure({"--model"}), Contains("--model needs a value"));
  CHECK_THAT(parse_failure({"--model", "--port", "80"}), Contains("--model needs a value"));
  CHECK_THAT(parse_failure({"--model", kModel, "--api-key", "--host=x"}), Contains("--api-key needs a value"));
  CHECK_THAT(parse_failure({"--port", "80"}), Contains("--model is required"));
  CHECK_THAT(parse_failure({"--model", "/no/such/model"}), Contains("--model: /no/such/model does not exist"));
  CHECK_THAT(parse_failure({"--model", kModel, "--port", "http"}), Contains("--port: expected an integer"));
  CHECK_THAT(parse_failure({"--model", kModel, "--port", "70000"}), Contains("--port: must be between 0 and 65535"));
  CHECK_THAT(parse_failure({"--model", kModel, "--port", "-1"}), Contains("--port"));
  CHECK_THAT(parse_failure({"--model", kModel, "--max_num_seqs", "0"}), Contains("--max_num_seqs"));
  CHECK_THAT(parse_failure({"--model", kModel, "--max-num-batched-tokens", "12x"}), Contains("--max-num-batched-tokens"));
  CHECK_THAT(parse_failure({"--model", kModel, "--gpu-memory-utilization", "1.5"}), Contains("--gpu-memory-utilization"));
  CHECK_THAT(parse_failure({"--model", kModel, "--gpu-memory-utilization", "nan"}), Contains("--gpu-memory-utilization"));
  CHECK_THAT(parse_failure({"--model", kModel, "--dtype", "int3"}), Contains("--dtype: expected one of"));
  CHECK_THAT(parse_failure({"--model", kModel, "--kv-cache-dtype", "fp8_e5m2"}),
             Contains("--kv-cache-dtype: expected one of auto, bfloat16, float16, fp8_e4m3, int8"));
  CHECK_THAT(parse_failure({"--model", kModel, "--device", "tpu"}), Contains("--device"));
  CHECK_THAT(parse_failure({"--model", kModel, "--log-level", "loud"}), Contains("--log-level"));
  CHECK_THAT(parse_failure({"--model", kModel, "--stream-format", "sse"}),
             Contains("--stream-format: expected one of openai, bladellm"));
  CHECK(parse({"--model", kModel}).http.stream_format.empty());
  CHECK(parse({"--model", kModel, "--stream_format=BladeLLM"}).http.stream_format == "bladellm");
  CHECK_THAT(parse_failure({"--model", kModel, "--api-key="}), Contains("--api-key: must not be empty"));
  CHECK_THAT(parse_failure({"--model", kModel, "--disable-prefix-cache=perhaps"}), Contains("--disable-prefix-cache"));
  CHECK_THAT(parse_failure({"--model", kModel, "--kv-cache-memory", "0"}), Contains("--kv-cache-memory"));
  CHECK_THAT(parse_failure({"--model", kModel, "--chat-template", "/no/such.jinja"}), Contains("--chat-template"));
  CHECK_THAT(parse_failure({"--model", kModel, "--tokenizer", "/no/such/dir"}), Contains("--tokenizer"));
  CHECK_THAT(parse_failure({"--model", kModel, "--max_queue_time", "-3"}), Contains("--max_queue_time"));
}

TEST_CASE("server options: features that do not exist yet parse but fail validation", "[options]") {
  using Catch::Contains;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--decode_algo", "look_ahead"}, "--decode-algo look_ahead"},
      {{"--preempt_strategy", "SWAP"}, "--preempt-strategy SWAP"}};
  for (const auto& [flags, named] : cases) {
    std::vector<std::string> args = {"--model", kModel};
    args.insert(args.end(), flags.begin(), flags.end());
    ServerOptions parsed = parse_server_options(args, env_of({}));  // parsing accepts them
    CHECK_THROWS_WITH(validate_server_options(parsed), Contains(named) && Contains("not supported yet"));
  }
}

TEST_CASE("server options: speculative decoding's method, draft model and BladeLLM's spellings", "[options]") {
  using Catch::Contains;
  const auto validated = [](std::vector<std::string> flags) {
    std::vector<std::string> args = {"--model", kModel};
    args.insert(args.end(), flags.begin(), flags.end());
    ServerOptions parsed = parse_server_options(args, env_of({}));
    validate_server_options(parsed);
    return parsed;
  };
  // A draft model alone means drafting with it; sps is BladeLLM's name for the same.
  ServerOptions o = validated({"--draft.model", kModel, "--gamma", "3", "--draft-gguf-weights", "f32"});
  CHECK(o.engine.speculative.method == "draft");
  CHECK(o.engine.speculative.draft_model == kModel);
  CHECK(o.engine.speculative.num_steps == 3);
  CHECK(o.engine.speculative.draft_gguf == GgufWeights::f32);
  CHECK(o.engine.speculative.drafts_with_model());
  o = validated({"--decode_algo", "sps", "--draft-model", kModel});
  CHECK(o.engine.speculative.method == "draft");
  o = validated({"--speculative-method", "ngram"});
  CHECK_FALSE(o.engine.speculative.drafts_with_model());

  const std::vector<std::pair<std::vector<std::string>, std::string>> refused = {
      {{"--speculative-method", "draft"}, "needs --draft-model"},
      {{"--decode-algo", "sps"}, "needs --draft-model"},
      {{"--draft-model", "/no/such/draft"}, "--draft-model: /no/such/draft does not exist"},
      {{"--speculative-method", "ngram", "--draft-model", kModel}, "drop --draft-model"},
      {{"--decode-algo", "sps", "--speculative-method", "ngram", "--draft-model", kModel}, "--decode-algo sps"}};
  for (const auto& [flags, why] : refused) {
    INFO(flags.front());
    CHECK_THROWS_WITH(validated(flags), Contains(why));
  }
  CHECK_THROWS_WITH(validated({"--draft-gguf-weights", "f16"}), Contains("--draft-gguf-weights"));
}

TEST_CASE("server options: --help and --version skip validation", "[options]") {
  const char* argv[] = {"sabre-server", "--help"};
  CHECK(server_options_from_command_line(2, argv, env_of({})).help);
  const char* argv_h[] = {"sabre-server", "-h", "--port", "1"};
  CHECK(server_options_from_command_line(4, argv_h, env_of({})).help);
  const char* argv_v[] = {"sabre-server", "--version"};
  CHECK(server_options_from_command_line(2, argv_v, env_of({})).version);
  const std::string help = server_help_text();
  for (const char* flag : {"--model", "--port", "--host", "--tensor-parallel-size", "--gpu-memory-utilization",
                           "--max-num-batched-tokens", "--max-model-len", "--max-num-seqs", "--draft-model",
                           "--speculative-steps", "--speculative-method", "--draft-gguf-weights", "--api-key", "--served-model-name",
                           "--device", "--tokenizer", "--chat-template", "--dtype", "--disable-prefix-cache",
                           "--no-async-scheduling", "--disable-cuda-graph", "--log-level", "--threads", "--kv-cache-memory", "--max-waiting",
                           "--exact-kernels", "--stream-format", "SABRE_API_KEY", "--gamma", "--decode-algo", "--max_gpu_memory_utilization"}) {
    INFO(flag);
    CHECK(help.find(flag) != std::string::npos);
  }
}
