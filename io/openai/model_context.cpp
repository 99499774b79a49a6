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

ModelContext load_model_context(const ServedModel& model, const std::filesystem::path& chat_template_file,
                                std::string served_model_name, int64_t max_model_len) {
  ModelContext context;
  context.served_model_name = std::move(served_model_name);
  context.model_root = model.path.string();
  context.max_model_len = max_model_len;
  context.vocab_size = model.config.vocab_size;
  context.tokenizer = model.tokenizer;
  context.guided = model.guided;
  const std::string& config_json = model.tokenizer_config_json;
  if (!chat_template_file.empty()) {
    // The file replaces the model's template and names itself in its errors; the special tokens still come
    // from the model's config.
    context.chat_template = std::make_shared<const chat::ChatTemplate>(chat::ChatTemplate::from_string(
        read_text_file(chat_template_file),
        chat::ChatTemplate::special_tokens_of_config_json(config_json.empty() ? "{}" : config_json,
                                                          model.tokenizer_config_origin),
        "chat template " + chat_template_file.string()));
  } else if (model.chat_template_jinja || config_has_chat_template(config_json)) {
    context.chat_template = std::make_shared<const chat::ChatTemplate>(chat::ChatTemplate::from_tokenizer_config_json(
        config_json.empty() ? "{}" : config_json, model.tokenizer_config_origin, model.chat_template_jinja));
  }
  if (context.chat_template) context.tool_call_format = tool_call_format_of_template(context.chat_template->source());
  return context;
}

ModelContext load_model_context(const Checkpoint& checkpoint, const std::filesystem::path& tokenizer_dir,
                                const std::filesystem::path& chat_template_file, std::string served_model_name,
                                int64_t max_model_len) {
  return load_model_context(describe_served_model(checkpoint, tokenizer_dir), chat_template_file,
                            std::move(served_model_name), max_model_len);
}

}  // namespace sabre::openai
