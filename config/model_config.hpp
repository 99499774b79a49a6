#pragma once
// What Sabre needs to know about a model's shape, read from Hugging Face's config.json (and
// generation_config.json). Parsing validates everything the forward pass relies on, so the rest of the
// code can trust these numbers.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sabre {

enum class Architecture { llama, qwen2, qwen3 };

// The text spelling used in config.json's "architectures" list ("LlamaForCausalLM", ...).
std::string_view architecture_name(Architecture arch);

enum class RopeScalingType { none, linear, dynamic, llama3, yarn };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::none;
  double factor = 1.0;
  // llama3
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  // llama3, yarn, dynamic: the context length the model was trained at before scaling.
  int64_t original_max_position_embeddings = 0;
  // yarn
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  std::optional<double> attention_factor;  // yarn's mscale override
  bool truncate = true;                     // yarn: round the correction range to whole dimensions
};

struct ModelConfig {
  Architecture architecture = Architecture::llama;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // GQA: divides num_attention_heads
  int64_t head_dim = 0;             // explicit in Qwen3, else hidden_size / num_attention_heads
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v projections carry a bias (Qwen2)
  bool qk_norm = false;         // per-head RMSNorm on q and k before RoPE (Qwen3)
  std::string torch_dtype;      // "bfloat16", "float16", "float32" or empty
  std::optional<int32_t> bos_token_id;
  std::vector<int32_t> eos_token_ids;  // config.json's, merged with generation_config.json's
};

// Sampling defaults a model ships in generation_config.json (all optional).
struct GenerationDefaults {
  // HF semantics: do_sample false means greedy whatever the temperature says.
  std::optional<bool> do_sample;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<double> repetition_penalty;
  std::vector<int32_t> eos_token_ids;
};

// Parses config.json text. `origin` names the source (a path) in error messages. Throws
// std::runtime_error naming the field and the expectation; an unsupported architecture is an error
// that names it and lists the supported ones.
ModelConfig parse_model_config(std::string_view json_text, std::string_view origin);
GenerationDefaults parse_generation_config(std::string_view json_text, std::string_view origin);

// Reads DIR/config.json and, when present, DIR/generation_config.json; every eos id of either file
// ends up in ModelConfig::eos_token_ids.
ModelConfig load_model_config(const std::filesystem::path& model_dir);
GenerationDefaults load_generation_defaults(const std::filesystem::path& model_dir);

// Adds generation_config's eos ids to the model's (for callers that parse the two texts themselves, such
// as the GGUF loader).
void merge_eos_ids(ModelConfig& config, const GenerationDefaults& generation);

}  // namespace sabre
