#include "model/served_model.hpp"

#include "config/text/read_file.hpp"

namespace sabre {

ServedModel describe_served_model(const Checkpoint& checkpoint, const std::filesystem::path& tokenizer_dir) {
  ServedModel model;
  model.path = checkpoint.path;
  model.config = checkpoint.config;
  model.generation = checkpoint.generation;
  model.tokenizer_config_json = checkpoint.tokenizer_config_json;
  model.tokenizer_config_origin = (checkpoint.path / "tokenizer_config.json").string();
  if (!checkpoint.chat_template_jinja.empty()) model.chat_template_jinja = checkpoint.chat_template_jinja;
  if (!tokenizer_dir.empty()) {
    model.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_file(tokenizer_dir));
    if (std::filesystem::exists(tokenizer_dir / "tokenizer_config.json")) {
      model.tokenizer_config_origin = (tokenizer_dir / "tokenizer_config.json").string();
      model.tokenizer_config_json = read_text_file(tokenizer_dir / "tokenizer_config.json");
      model.chat_template_jinja.reset();
      if (std::filesystem::exists(tokenizer_dir / "chat_template.jinja")) {
        model.chat_template_jinja = read_text_file(tokenizer_dir / "chat_template.jinja");
      }
    }
  } else if (!checkpoint.tokenizer_json.empty()) {
    model.tokenizer = std::make_shared<const Tokenizer>(
        Tokenizer::from_json(checkpoint.tokenizer_json, (checkpoint.path / "tokenizer.json").string()));
  }
  if (model.tokenizer) {
    model.guided = std::make_shared<structured::GuidedCompiler>(model.tokenizer, model.config.vocab_size,
                                                               model.config.eos_token_ids);
  }
  return model;
}

}  // namespace sabre
