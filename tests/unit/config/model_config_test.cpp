// config.json / generation_config.json parsing: the real spellings of Llama 2/3.1/3.2, Qwen2.5 and Qwen3
// checkpoints, the tiny fixtures, and one bad input per validation rule (checking that the message names
// the file and the field).

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/json_fields.hpp"
#include "config/model_config.hpp"

using namespace sabre;

namespace {

// Abridged from meta-llama/Llama-3.1-8B-Instruct's config.json.
const std::string kLlama31 = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
  "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.42.3", "use_cache": true, "vocab_size": 128256})";

// Abridged from Qwen/Qwen2.5-0.5B-Instruct.
const std::string kQwen25 = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151645, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
  "intermediate_size": 4864, "max_position_embeddings": 32768, "max_window_layers": 21,
  "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24, "num_key_value_heads": 2,
  "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "tie_word_embeddings": true,
  "torch_dtype": "bfloat16", "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})";

// Abridged from Qwen/Qwen3-0.6B: head_dim 128 although hidden/heads = 64.
const std::string kQwen3 = R"({
  "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "bos_token_id": 151643,
  "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 1024,
  "intermediate_size": 3072, "max_position_embeddings": 40960, "model_type": "qwen3",
  "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "rms_norm_eps": 1e-06,
  "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null, "tie_word_embeddings": true,
  "torch_dtype": "bfloat16", "use_sliding_window": false, "vocab_size": 151936})";

// Llama 2 7B: no num_key_value_heads in very old copies, rope_scaling null, eos an int.
const std::string kLlama2 = R"({
  "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu",
  "hidden_size": 4096, "intermediate_size": 11008, "max_position_embeddings": 4096, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 32, "rms_norm_eps": 1e-05, "rope_scaling": null,
  "tie_word_embeddings": false, "torch_dtype": "float16", "vocab_size": 32000})";

// Replaces the first occurrence of `from` with `to` (the test inputs are built by mutating good ones).
std::string with(std::string text, const std::string& from, const std::string& to) {
  auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

std::string error_of(const std::string& json) {
  try {
    parse_model_config(json, "/models/x/config.json");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("parse_model_config accepted a bad config: " << json);
  return "";
}

}  // namespace

TEST_CASE("Llama 3.1 config: GQA, llama3 rope scaling, eos list", "[config]") {
  ModelConfig c = parse_model_config(kLlama31, "config.json");
  CHECK(c.architecture == Architecture::llama);
  CHECK(architecture_name(c.architecture) == "LlamaForCausalLM");
  CHECK(c.vocab_size == 128256);
  CHECK(c.hidden_size == 4096);
  CHECK(c.intermediate_size == 14336);
  CHECK(c.num_hidden_layers == 32);
  CHECK(c.num_attention_heads == 32);
  CHECK(c.num_key_value_heads == 8);
  CHECK(c.head_dim == 128);
  CHECK(c.max_position_embeddings == 131072);
  CHECK(c.rms_norm_eps == Approx(1e-5));
  CHECK(c.rope_theta == 500000.0);
  CHECK(c.rope_scaling.type == RopeScalingType::llama3);
  CHECK(c.rope_scaling.factor == 8.0);
  CHECK(c.rope_scaling.low_freq_factor == 1.0);
  CHECK(c.rope_scaling.high_freq_factor == 4.0);
  CHECK(c.rope_scaling.original_max_position_embeddings == 8192);
  CHECK_FALSE(c.tie_word_embeddings);
  CHECK_FALSE(c.attention_bias);
  CHECK_FALSE(c.qk_norm);
  CHECK(c.torch_dtype == "bfloat16");
  CHECK(c.bos_token_id == 128000);
  CHECK(c.eos_token_ids == std::vector<int32_t>{128001, 128008, 128009});
}

TEST_CASE("Qwen2.5 config: q/k/v bias, tied embeddings, int eos", "[config]") {
  ModelConfig c = parse_model_config(kQwen25, "config.json");
  CHECK(c.architecture == Architecture::qwen2);
  CHECK(c.attention_bias);
  CHECK_FALSE(c.qk_norm);
  CHECK(c.tie_word_embeddings);
  CHECK(c.head_dim == 64);
  CHECK(c.num_key_value_heads == 2);
  CHECK(c.rope_theta == 1e6);
  CHECK(c.rope_scaling.type == RopeScalingType::none);
  CHECK(c.eos_token_ids == std::vector<int32_t>{151645});
}

TEST_CASE("Qwen3 config: explicit head_dim, q/k norm, integer rope_theta", "[config]") {
  ModelConfig c = parse_model_config(kQwen3, "config.json");
  CHECK(c.architecture == Architecture::qwen3);
  CHECK(c.head_dim == 128);
  CHECK(c.hidden_size / c.num_attention_heads == 64);
  CHECK(c.qk_norm);
  CHECK_FALSE(c.attention_bias);
  CHECK(c.rope_theta == 1e6);
}

TEST_CASE("Llama 2 config: defaults for absent fields", "[config]") {
  ModelConfig c = parse_model_config(kLlama2, "config.json");
  CHECK(c.num_key_value_heads == 32);
  CHECK(c.rope_theta == 10000.0);
  CHECK(c.rope_scaling.type == RopeScalingType::none);
  CHECK(c.eos_token_ids == std::vector<int32_t>{2});
  CHECK(c.torch_dtype == "float16");
}

TEST_CASE("rope scaling spellings: type/rope_type, linear, dynamic, yarn, rope_parameters", "[config]") {
  auto linear = parse_model_config(with(kLlama2, R"("rope_scaling": null)",
                                        R"("rope_scaling": {"type": "linear", "factor": 2.0})"),
                                   "c");
  CHECK(linear.rope_scaling.type == RopeScalingType::linear);
  CHECK(linear.rope_scaling.factor == 2.0);

  auto dynamic = parse_model_config(with(kLlama2, R"("rope_scaling": null)",
                                         R"("rope_scaling": {"type": "dynamic", "factor": 4})"),
                                    "c");
  CHECK(dynamic.rope_scaling.type == RopeScalingType::dynamic);
  CHECK(dynamic.rope_scaling.factor == 4.0);
  CHECK(dynamic.rope_scaling.original_max_position_embeddings == 4096);

  auto yarn = parse_model_config(
      with(kQwen25, R"("rope_theta": 1000000.0)",
           R"("rope_theta": 1000000.0, "rope_scaling": {"type": "yarn", "factor": 4.0,
              "original_max_position_embeddings": 32768})"),
      "c");
  CHECK(yarn.rope_scaling.type == RopeScalingType::yarn);
  CHECK(yarn.rope_scaling.original_max_position_embeddings == 32768);
  CHECK(yarn.rope_scaling.beta_fast == 32.0);
  CHECK(yarn.rope_scaling.beta_slow == 1.0);
  CHECK_FALSE(yarn.rope_scaling.attention_factor.has_value());

  // transformers 5 moves rope_theta into rope_parameters.
  auto v5 = parse_model_config(
      with(kLlama2, R"("rope_scaling": null)",
           R"("rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
              "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})"),
      "c");
  CHECK(v5.rope_theta == 500000.0);
  CHECK(v5.rope_scaling.type == RopeScalingType::llama3);
  CHECK(v5.rope_scaling.factor == 32.0);

  auto plain = parse_model_config(
      with(kLlama2, R"("rope_scaling": null)",
           R"("rope_parameters": {"rope_type": "default", "rope_theta": 1234.0})"), "c");
  CHECK(plain.rope_theta == 1234.0);
  CHECK(plain.rope_scaling.type == RopeScalingType::none);
}

TEST_CASE("unsupported architecture names itself and the supported ones", "[config]") {
  std::string message = error_of(with(kLlama2, "LlamaForCausalLM", "MistralForCausalLM"));
  CHECK_THAT(message, Catch::Contains("/models/x/config.json"));
  CHECK_THAT(message, Catch::Contains("MistralForCausalLM"));
  CHECK_THAT(message, Catch::Contains("LlamaForCausalLM"));
  CHECK_THAT(message, Catch::Contains("Qwen2ForCausalLM"));
  CHECK_THAT(message, Catch::Contains("Qwen3ForCausalLM"));
}

TEST_CASE("missing and wrong-typed fields name the field and the file", "[config]") {
  struct Case {
    std::string from, to, field, expectation;
  };
  const Case cases[] = {
      {R"("hidden_size": 4096,)", "", "hidden_size", "missing"},
      {R"("hidden_size": 4096)", R"("hidden_size": "4096")", "hidden_size", "integer"},
      {R"("hidden_size": 4096)", R"("hidden_size": 4096.5)", "hidden_size", "integer"},
      {R"("vocab_size": 32000)", R"("vocab_size": -3)", "vocab_size", "positive"},
      {R"("num_hidden_layers": 32)", R"("num_hidden_layers": 0)", "num_hidden_layers", "positive"},
      {R"("intermediate_size": 11008)", R"("intermediate_size": null)", "intermediate_size", "null"},
      {R"("num_attention_heads": 32)", R"("num_attention_heads": 32, "num_key_value_heads": 5)",
       "num_key_value_heads", "divide"},
      {R"("hidden_size": 4096)", R"("hidden_size": 4001)", "head_dim", "multiple"},
      {R"("rms_norm_eps": 1e-05)", R"("rms_norm_eps": "small")", "rms_norm_eps", "number"},
      {R"("eos_token_id": 2)", R"("eos_token_id": "</s>")", "eos_token_id", "integer"},
      {R"("eos_token_id": 2)", R"("eos_token_id": [2, "x"])", "eos_token_id", "integer"},
      {R"("eos_token_id": 2)", R"("eos_token_id": 99999)", "eos_token_id", "vocabulary"},
      {R"("tie_word_embeddings": false)", R"("tie_word_embeddings": "no")", "tie_word_embeddings", "true or false"},
      {R"("hidden_act": "silu")", R"("hidden_act": "gelu")", "hidden_act", "gelu"},
      {R"("rope_scaling": null)", R"("rope_scaling": {"type": "longrope", "factor": 2})", "rope_scaling.rope_type",
       "longrope"},
      {R"("rope_scaling": null)", R"("rope_scaling": {"type": "linear"})", "rope_scaling.factor", "missing"},
      {R"("rope_scaling": null)", R"("rope_scaling": {"factor": 2.0})", "rope_scaling.rope_type", "missing"},
      {R"("rope_scaling": null)",
       R"("rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0})",
       "rope_scaling.original_max_position_embeddings", "missing"},
      {R"("rope_scaling": null)", R"("rope_scaling": [1, 2])", "rope_scaling", "object"},
      {R"("architectures": ["LlamaForCausalLM"])", R"("architectures": "LlamaForCausalLM")", "architectures",
       "list"},
  };
  for (const auto& c : cases) {
    INFO("mutation: " << c.to);
    std::string message = error_of(with(kLlama2, c.from, c.to));
    CHECK_THAT(message, Catch::Contains("/models/x/config.json"));
    CHECK_THAT(message, Catch::Contains("'" + c.field + "'"));
    CHECK_THAT(message, Catch::Contains(c.expectation));
  }
}

TEST_CASE("not JSON or not an object", "[config]") {
  CHECK_THAT(error_of("{\"vocab_size\": 3,"), Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of("[1, 2]"), Catch::Contains("object"));
  CHECK_THAT(error_of("{\"model_type\": \"gpt2\"}"), Catch::Contains("gpt2"));
  CHECK_THAT(error_of("{}"), Catch::Contains("architectures"));
}

TEST_CASE("generation_config defaults", "[config]") {
  auto g = parse_generation_config(
      R"({"bos_token_id": 128000, "do_sample": true, "eos_token_id": [128001, 128008, 128009],
          "temperature": 0.6, "top_p": 0.9, "transformers_version": "4.42.3"})",
      "generation_config.json");
  CHECK(g.do_sample == true);
  CHECK(g.temperature == 0.6);
  CHECK(g.top_p == 0.9);
  CHECK_FALSE(g.top_k.has_value());
  CHECK(g.eos_token_ids == std::vector<int32_t>{128001, 128008, 128009});

  auto empty = parse_generation_config("{}", "g");
  CHECK_FALSE(empty.temperature.has_value());
  CHECK(empty.eos_token_ids.empty());

  auto bad = [](const std::string& json) {
    try {
      parse_generation_config(json, "/m/generation_config.json");
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  CHECK_THAT(bad(R"({"top_p": 1.5})"), Catch::Contains("'top_p'") && Catch::Contains("/m/generation_config.json"));
  CHECK_THAT(bad(R"({"temperature": -1})"), Catch::Contains("'temperature'"));
  CHECK_THAT(bad(R"({"top_k": "20"})"), Catch::Contains("'top_k'"));
  CHECK_THAT(bad(R"({"eos_token_id": {"a": 1}})"), Catch::Contains("'eos_token_id'"));
}

TEST_CASE("load_model_config merges generation_config eos ids (Llama 3 <|eot_id|>)", "[config]") {
  const auto dir = std::filesystem::temp_directory_path() / "sabre_config_test_llama3";
  std::filesystem::create_directories(dir);
  // Llama 3 Instruct's config.json says 128001 only; <|eot_id|> (128009) comes from generation_config.
  std::ofstream(dir / "config.json") << with(kLlama31, "[128001, 128008, 128009]", "128001");
  std::ofstream(dir / "generation_config.json")
      << R"({"eos_token_id": [128001, 128009], "temperature": 0.6, "top_p": 0.9})";
  ModelConfig c = load_model_config(dir);
  CHECK(c.eos_token_ids == std::vector<int32_t>{128001, 128009});
  auto g = load_generation_defaults(dir);
  CHECK(g.temperature == 0.6);

  std::filesystem::remove(dir / "generation_config.json");
  CHECK(load_model_config(dir).eos_token_ids == std::vector<int32_t>{128001});
  CHECK_FALSE(load_generation_defaults(dir).temperature.has_value());

  std::filesystem::remove(dir / "config.json");
  CHECK_THROWS_WITH(load_model_config(dir), Catch::Contains("config.json"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("every tiny fixture config parses as its architecture", "[config]") {
  const std::filesystem::path models = std::filesystem::path(SABRE_TEST_FIXTURES) / "models";
  struct Expect {
    const char* name;
    Architecture arch;
    RopeScalingType rope;
    bool tied;
  };
  const Expect expected[] = {
      {"llama_rope_llama3", Architecture::llama, RopeScalingType::llama3, true},
      {"llama_rope_linear", Architecture::llama, RopeScalingType::linear, true},
      {"llama_gqa_untied", Architecture::llama, RopeScalingType::none, false},
      {"qwen2_bias", Architecture::qwen2, RopeScalingType::none, true},
      {"qwen3_qknorm", Architecture::qwen3, RopeScalingType::none, true},
  };
  for (const auto& e : expected) {
    INFO(e.name);
    ModelConfig c = load_model_config(models / e.name);
    CHECK(c.architecture == e.arch);
    CHECK(c.rope_scaling.type == e.rope);
    CHECK(c.tie_word_embeddings == e.tied);
  }
  ModelConfig qwen3 = load_model_config(models / "qwen3_qknorm");
  CHECK(qwen3.head_dim == 32);
  CHECK(qwen3.eos_token_ids == std::vector<int32_t>{2, 3});
  // rope_parameters spelling (transformers 5) with theta 500000.
  CHECK(load_model_config(models / "llama_gqa_untied").rope_theta == 500000.0);
}
