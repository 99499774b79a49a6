#include "config/model_config.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "config/json_fields.hpp"
#include "config/text/read_file.hpp"

namespace sabre {
namespace {

struct ArchitectureSpelling {
  Architecture arch;
  std::string_view class_name;
  std::string_view model_type;
};

constexpr ArchitectureSpelling kArchitectures[] = {
    {Architecture::llama, "LlamaForCausalLM", "llama"},
    {Architecture::qwen2, "Qwen2ForCausalLM", "qwen2"},
    {Architecture::qwen3, "Qwen3ForCausalLM", "qwen3"},
};

std::string supported_architectures() {
  std::string list;
  for (const auto& a : kArchitectures) {
    if (!list.empty()) list += ", ";
    list += a.class_name;
  }
  return list;
}

Architecture read_architecture(const JsonFields& fields) {
  if (auto element = fields.get("architectures")) {
    if (!element->is_array()) {
      fields.fail("architectures", fmt::format("must be a list of class names, found {}",
                                               json_type_name(*element)));
    }
    std::vector<std::string> names;
    for (simdjson::dom::element item : simdjson::dom::array(*element)) {
      if (!item.is_string()) fields.fail("architectures", "must hold strings");
      names.emplace_back(std::string_view(item));
    }
    for (const auto& name : names) {
      for (const auto& a : kArchitectures) {
        if (name == a.class_name) return a.arch;
      }
    }
    throw ConfigError(fmt::format("{}: unsupported architecture '{}'; Sabre supports {}", fields.origin(),
                                  fmt::join(names, "', '"), supported_architectures()));
  }
  // Old checkpoints sometimes omit "architectures"; model_type identifies the family just as well.
  if (auto model_type = fields.optional_string("model_type")) {
    for (const auto& a : kArchitectures) {
      if (*model_type == a.model_type) return a.arch;
    }
    throw ConfigError(fmt::format("{}: unsupported model_type '{}'; Sabre supports {}", fields.origin(),
                                  *model_type, supported_architectures()));
  }
  fields.fail("architectures", fmt::format("is missing (and so is model_type); expected one of {}",
                                           supported_architectures()));
}

int64_t positive_int(const JsonFields& fields, std::string_view key) {
  int64_t value = fields.required_int(key);
  if (value <= 0) fields.fail(key, fmt::format("must be positive, found {}", value));
  return value;
}

double positive_number(const JsonFields& fields, std::string_view key, std::optional<double> fallback) {
  auto value = fields.optional_number(key);
  if (!value && !fallback) fields.fail(key, "is missing (a positive number is required)");
  double v = value ? *value : *fallback;
  if (!(v > 0)) fields.fail(key, fmt::format("must be positive, found {}", v));
  return v;
}

// rope_scaling (Hub spelling) or rope_parameters (transformers 5 spelling, which also carries rope_theta).
RopeScaling read_rope_scaling(const JsonFields& rope, int64_t max_position_embeddings) {
  RopeScaling scaling;
  std::string type;
  if (auto t = rope.optional_string("rope_type")) {
    type = *t;
  } else if (auto t2 = rope.optional_string("type")) {
    type = *t2;
  } else {
    rope.fail("rope_type", "is missing (expected one of default, linear, dynamic, llama3, yarn)");
  }
  if (type == "default") return scaling;
  if (type == "linear") {
    scaling.type = RopeScalingType::linear;
    scaling.factor = positive_number(rope, "factor", std::nullopt);
  } else if (type == "dynamic") {
    scaling.type = RopeScalingType::dynamic;
    scaling.factor = positive_number(rope, "factor", std::nullopt);
    scaling.original_max_position_embeddings =
        rope.optional_int("original_max_position_embeddings").value_or(max_position_embeddings);
  } else if (type == "llama3") {
    scaling.type = RopeScalingType::llama3;
    scaling.factor = positive_number(rope, "factor", std::nullopt);
    scaling.low_freq_factor = positive_number(rope, "low_freq_factor", std::nullopt);
    scaling.high_freq_factor = positive_number(rope, "high_freq_factor", std::nullopt);
    scaling.original_max_position_embeddings = positive_int(rope, "original_max_position_embeddings");
    if (scaling.high_freq_factor <= scaling.low_freq_factor) {
      rope.fail("high_freq_factor", fmt::format("must exceed low_freq_factor ({} <= {})",
                                                scaling.high_freq_factor, scaling.low_freq_factor));
    }
  } else if (type == "yarn") {
    scaling.type = RopeScalingType::yarn;
    scaling.factor = positive_number(rope, "factor", std::nullopt);
    scaling.original_max_position_embeddings =
        rope.optional_int("original_max_position_embeddings").value_or(max_position_embeddings);
    scaling.beta_fast = rope.optional_number("beta_fast").value_or(32.0);
    scaling.beta_slow = rope.optional_number("beta_slow").value_or(1.0);
    scaling.attention_factor = rope.optional_number("attention_factor");
    scaling.truncate = rope.optional_bool("truncate").value_or(true);
  } else {
    rope.fail("rope_type", fmt::format("'{}' is not supported (expected one of default, linear, dynamic, "
                                       "llama3, yarn)", type));
  }
  if (scaling.original_max_position_embeddings < 0) {
    rope.fail("original_max_position_embeddings", "must be positive");
  }
  return scaling;
}

void merge_ids(std::vector<int32_t>& into, const std::vector<int32_t>& more) {
  for (int32_t id : more) {
    if (std::find(into.begin(), into.end(), id) == into.end()) into.push_back(id);
  }
}

}  // namespace

std::string_view architecture_name(Architecture arch) {
  for (const auto& a : kArchitectures) {
    if (a.arch == arch) return a.class_name;
  }
  return "unknown";
}

ModelConfig parse_model_config(std::string_view json_text, std::string_view origin) {
  simdjson::dom::parser parser;
  const JsonFields fields = JsonFields::parse_object(parser, json_text, origin);
  ModelConfig config;
  config.architecture = read_architecture(fields);

  config.vocab_size = positive_int(fields, "vocab_size");
  config.hidden_size = positive_int(fields, "hidden_size");
  config.intermediate_size = positive_int(fields, "intermediate_size");
  config.num_hidden_layers = positive_int(fields, "num_hidden_layers");
  config.num_attention_heads = positive_int(fields, "num_attention_heads");
  config.num_key_value_heads = fields.has("num_key_value_heads") ? positive_int(fields, "num_key_value_heads")
                                                                 : config.num_attention_heads;
  if (config.num_attention_heads % config.num_key_value_heads != 0) {
    fields.fail("num_key_value_heads",
                fmt::format("({}) must divide num_attention_heads ({})", config.num_key_value_heads,
                            config.num_attention_heads));
  }
  if (fields.has("head_dim")) {
    config.head_dim = positive_int(fields, "head_dim");
  } else {
    if (config.hidden_size % config.num_attention_heads != 0) {
      fields.fail("head_dim", fmt::format("is missing and hidden_size ({}) is not a multiple of "
                                          "num_attention_heads ({})",
                                          config.hidden_size, config.num_attention_heads));
    }
    config.head_dim = config.hidden_size / config.num_attention_heads;
  }
  if (config.head_dim % 2 != 0) {
    fields.fail("head_dim", fmt::format("must be even for rotary embeddings, found {}", config.head_dim));
  }
  // transformers' defaults when the field is absent.
  const int64_t default_max_positions = config.architecture == Architecture::llama ? 2048 : 32768;
  config.max_position_embeddings =
      fields.has("max_position_embeddings") ? positive_int(fields, "max_position_embeddings")
                                            : default_max_positions;
  config.rms_norm_eps = positive_number(fields, "rms_norm_eps", 1e-6);

  if (auto act = fields.optional_string("hidden_act"); act && *act != "silu") {
    fields.fail("hidden_act", fmt::format("'{}' is not supported (Llama and Qwen use 'silu')", *act));
  }
  if (fields.optional_bool("mlp_bias").value_or(false)) {
    fields.fail("mlp_bias", "is true: MLP biases are not supported");
  }
  if (fields.optional_bool("use_sliding_window").value_or(false)) {
    fields.fail("use_sliding_window", "is true: sliding-window attention is not supported");
  }

  // RoPE: Hub checkpoints spell rope_theta + rope_scaling; transformers 5 writes rope_parameters.
  if (auto params = fields.optional_object("rope_parameters")) {
    config.rope_theta = positive_number(*params, "rope_theta", 10000.0);
    config.rope_scaling = read_rope_scaling(*params, config.max_position_embeddings);
  } else {
    config.rope_theta = positive_number(fields, "rope_theta", 10000.0);
    if (auto scaling = fields.optional_object("rope_scaling")) {
      config.rope_scaling = read_rope_scaling(*scaling, config.max_position_embeddings);
    }
  }

  config.tie_word_embeddings = fields.optional_bool("tie_word_embeddings").value_or(false);
  switch (config.architecture) {
    case Architecture::qwen2:
      config.attention_bias = true;  // Qwen2's q/k/v projections always carry a bias
      break;
    case Architecture::qwen3:
      config.qk_norm = true;
      config.attention_bias = fields.optional_bool("attention_bias").value_or(false);
      break;
    case Architecture::llama:
      config.attention_bias = fields.optional_bool("attention_bias").value_or(false);
      break;
  }

  if (auto dtype = fields.optional_string("torch_dtype")) {
    config.torch_dtype = *dtype;
  } else if (auto dtype2 = fields.optional_string("dtype")) {
    config.torch_dtype = *dtype2;
  }
  if (auto bos = fields.optional_int("bos_token_id")) {
    if (*bos < 0 || *bos >= config.vocab_size) {
      fields.fail("bos_token_id", fmt::format("({}) is outside the vocabulary (size {})", *bos,
                                              config.vocab_size));
    }
    config.bos_token_id = static_cast<int32_t>(*bos);
  }
  config.eos_token_ids = fields.int_or_int_list("eos_token_id");
  for (int32_t id : config.eos_token_ids) {
    if (id >= config.vocab_size) {
      fields.fail("eos_token_id", fmt::format("({}) is outside the vocabulary (size {})", id,
                                              config.vocab_size));
    }
  }
  return config;
}

GenerationDefaults parse_generation_config(std::string_view json_text, std::string_view origin) {
  simdjson::dom::parser parser;
  const JsonFields fields = JsonFields::parse_object(parser, json_text, origin);
  GenerationDefaults defaults;
  defaults.do_sample = fields.optional_bool("do_sample");
  defaults.temperature = fields.optional_number("temperature");
  if (defaults.temperature && *defaults.temperature < 0) {
    fields.fail("temperature", fmt::format("must not be negative, found {}", *defaults.temperature));
  }
  defaults.top_p = fields.optional_number("top_p");
  if (defaults.top_p && !(*defaults.top_p > 0 && *defaults.top_p <= 1)) {
    fields.fail("top_p", fmt::format("must be in (0, 1], found {}", *defaults.top_p));
  }
  defaults.top_k = fields.optional_int("top_k");
  if (defaults.top_k && *defaults.top_k < 0) {
    fields.fail("top_k", fmt::format("must not be negative, found {}", *defaults.top_k));
  }
  defaults.repetition_penalty = fields.optional_number("repetition_penalty");
  if (defaults.repetition_penalty && !(*defaults.repetition_penalty > 0)) {
    fields.fail("repetition_penalty", fmt::format("must be positive, found {}", *defaults.repetition_penalty));
  }
  defaults.eos_token_ids = fields.int_or_int_list("eos_token_id");
  return defaults;
}

ModelConfig load_model_config(const std::filesystem::path& model_dir) {
  const auto config_path = model_dir / "config.json";
  if (!std::filesystem::exists(config_path)) {
    throw ConfigError(fmt::format("{}: no config.json in the model directory", model_dir.string()));
  }
  ModelConfig config = parse_model_config(read_text_file(config_path), config_path.string());
  const GenerationDefaults generation = load_generation_defaults(model_dir);
  merge_ids(config.eos_token_ids, generation.eos_token_ids);
  for (int32_t id : config.eos_token_ids) {
    if (id >= config.vocab_size) {
      throw ConfigError(fmt::format("{}: eos_token_id {} is outside the vocabulary (size {})",
                                    (model_dir / "generation_config.json").string(), id, config.vocab_size));
    }
  }
  return config;
}

GenerationDefaults load_generation_defaults(const std::filesystem::path& model_dir) {
  const auto path = model_dir / "generation_config.json";
  if (!std::filesystem::exists(path)) return {};
  return parse_generation_config(read_text_file(path), path.string());
}

void merge_eos_ids(ModelConfig& config, const GenerationDefaults& generation) {
  merge_ids(config.eos_token_ids, generation.eos_token_ids);
}

}  // namespace sabre
