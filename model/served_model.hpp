#pragma once
// A model as the engine and the HTTP layer serve it, read once from its checkpoint: the config, the
// generation defaults, the tokenizer parsed once (the checkpoint's, or the one in --tokenizer's folder),
// and the texts the chat template comes from. The engine uses the tokenizer for text prompts and the
// OpenAI codec for everything else; both hold the same object.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "config/model_config.hpp"
#include "model/checkpoint.hpp"
#include "model/structured/guided_compiler.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace sabre {

struct ServedModel {
  std::filesystem::path path;
  ModelConfig config;
  GenerationDefaults generation;
  std::shared_ptr<const Tokenizer> tokenizer;  // null: the model ships none (token-id prompts only)
  // Guided decoding's compiler for this vocabulary (null without a tokenizer): the HTTP edge checks
  // constraints with it and the ranks compile them, sharing its cache.
  std::shared_ptr<structured::GuidedCompiler> guided;
  // tokenizer_config.json (special tokens, "chat_template") and where it came from, for errors.
  std::string tokenizer_config_json;
  std::string tokenizer_config_origin;
  std::optional<std::string> chat_template_jinja;  // chat_template.jinja, when shipped
};

// The served model of an opened checkpoint. With `tokenizer_dir` (--tokenizer), tokenizer.json comes
// from there, and tokenizer_config.json and chat_template.jinja too when it has them. Throws
// std::runtime_error naming the file when a tokenizer is present but broken.
ServedModel describe_served_model(const Checkpoint& checkpoint, const std::filesystem::path& tokenizer_dir = {});

}  // namespace sabre
