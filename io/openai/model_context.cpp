#include "io/openai/model_context.hpp"

#include <simdjson.h>

#include "config/text/read_file.hpp"
#include "model/checkpoint.hpp"

namespace sabre::openai {

namespace {

// Whether tokenizer_config.json text names a chat template (a parse error is left to the template loader).
bool config_has_chat_template(const std::string& config_json) {
  if (config_json.empty()) return false;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(config_json).get(root)) return true;  // let the loader report the malformed file
  simdjson::dom::element field;
  return !root["chat_template"].get(field) && !field.is_null();
}

}  // namespace

ModelContext load_model_context(const Checkpoint& checkpoint, const std::filesystem::path& tokenizer_dir,
                                const std::filesystem::path& chat_template_file, std::string served_model_name,
                                int64_t max_model_len) {
  ModelContext context;
  context.served_model_name = std::move(served_model_name);
  context.model_root = checkpoint.path.string();
  context.max_model_len = max_model_len;
  context.vocab_size = checkpoint.config.vocab_size;

  std::string config_json = checkpoint.tokenizer_config_json;
  std::string config_origin = (checkpoint.path / "tokenizer_config.json").string();
  std::optional<std::string> jinja;
  if (!checkpoint.chat_template_jinja.empty()) jinja = checkpoint.chat_template_jinja;
  if (!tokenizer_dir.empty()) {
    context.tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_file(tokenizer_dir));
    if (std::filesystem::exists(tokenizer_dir / "tokenizer_config.json")) {
      config_origin = (tokenizer_dir / "tokenizer_config.json").string();
      config_json = read_text_file(tokenizer_dir / "tokenizer_config.json");
      jinja.reset();
      if (std::filesystem::exists(tokenizer_dir / "chat_template.jinja")) {
        jinja = read_text_file(tokenizer_dir / "chat_template.jinja");
      }
    }
  } else if (!checkpoint.tokenizer_json.empty()) {
    context.tokenizer = std::make_shared<const Tokenizer>(
        Tokenizer::from_json(checkpoint.tokenizer_json, (checkpoint.path / "tokenizer.json").string()));
  }

  if (!chat_template_file.empty()) {
    // The file replaces the model's template; the special tokens still come from the model's config.
    context.chat_template = std::make_shared<const chat::ChatTemplate>(chat::ChatTemplate::from_tokenizer_config_json(
        config_json.empty() ? "{}" : config_json, config_origin, read_text_file(chat_template_file)));
  } else if (jinja || config_has_chat_template(config_json)) {
    context.chat_template = std::make_shared<const chat::ChatTemplate>(
        chat::ChatTemplate::from_tokenizer_config_json(config_json.empty() ? "{}" : config_json, config_origin, jinja));
  }
  return context;
}

}  // namespace sabre::openai
