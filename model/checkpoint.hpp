#pragma once
// Everything a model path provides, whatever its format: a Hugging Face directory (config.json,
// safetensors, tokenizer.json, tokenizer_config.json) or a single GGUF file, whose metadata is turned
// into the same texts so that one tokenizer and one chat-template implementation serve both.

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "config/engine_options.hpp"
#include "config/model_config.hpp"
#include "model/weights/weight_source.hpp"

namespace sabre {

struct Checkpoint {
  std::filesystem::path path;
  ModelConfig config;
  GenerationDefaults generation;
  std::unique_ptr<WeightSource> weights;
  std::string tokenizer_json;         // tokenizer.json text ("" when the model ships none)
  std::string tokenizer_config_json;  // tokenizer_config.json text (chat_template, bos/eos token), or ""
  // chat_template.jinja text, which newer Hub repositories ship beside tokenizer_config.json instead of
  // its "chat_template" field; "" when absent.
  std::string chat_template_jinja;
};

// Opens an HF model directory or a .gguf file: the texts are read, the weight files mapped (tensors are
// views into the mapping, converted only when the model is loaded from them). With LoadFormat::dummy an
// HF directory needs only config.json: the weights are random (model/dummy_weights.hpp). Throws
// std::runtime_error naming the path and what is missing or malformed.
Checkpoint open_checkpoint(const std::filesystem::path& path, LoadFormat format = LoadFormat::automatic);

// The HF-directory and GGUF halves of open_checkpoint.
Checkpoint open_hf_checkpoint(const std::filesystem::path& dir, LoadFormat format = LoadFormat::automatic);
Checkpoint open_gguf_checkpoint(const std::filesystem::path& file);

}  // namespace sabre
