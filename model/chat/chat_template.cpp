#include "model/chat/chat_template.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "model/chat/error.hpp"
#include "config/text/read_file.hpp"

namespace sabre::chat {

namespace {

// bos_token and friends are strings, null, or AddedToken objects {"content": "<s>", ...}.
std::optional<std::string> token_text(const Object& config, std::string_view key, std::string_view origin) {
  const Value* v = config.find(key);
  if (!v || v->is_none()) return std::nullopt;
  if (v->is_string()) return v->as_string();
  if (v->is_object()) {
    const Value* content = v->as_object().find("content");
    if (content && content->is_string()) return content->as_string();
  }
  throw std::runtime_error(std::string(origin) + ": field '" + std::string(key) +
                           "' must be a string or an AddedToken object with a 'content' string");
}

Value config_object(std::string_view json_text, std::string_view origin) {
  Value root = Value::from_json(json_text, origin);
  if (!root.is_object()) throw std::runtime_error(std::string(origin) + ": tokenizer_config.json must be a JSON object");
  return root;
}

SpecialTokens special_tokens_of(const Object& config, std::string_view origin) {
  SpecialTokens tokens;
  tokens.bos_token = token_text(config, "bos_token", origin);
  tokens.eos_token = token_text(config, "eos_token", origin);
  tokens.unk_token = token_text(config, "unk_token", origin);
  tokens.sep_token = token_text(config, "sep_token", origin);
  tokens.pad_token = token_text(config, "pad_token", origin);
  tokens.cls_token = token_text(config, "cls_token", origin);
  tokens.mask_token = token_text(config, "mask_token", origin);
  return tokens;
}

// transformers drops the message keys whose value is None (APIs send content=None next to tool
// calls), then copies a message's reasoning under "thinking" and "reasoning_content" so templates
// reading either name find it.
Value prepare_messages(const Value& messages) {
  if (!messages.is_array()) throw std::runtime_error("chat request: 'messages' must be a list of objects");
  if (messages.as_array().empty()) {
    throw std::runtime_error("Cannot apply chat template to an empty conversation. Provide at least one message.");
  }
  Array prepared;
  for (size_t i = 0; i < messages.as_array().size(); ++i) {
    const Value& message = messages.as_array()[i];
    if (!message.is_object()) {
      throw std::runtime_error("chat request: message " + std::to_string(i) + " must be an object, not " +
                               message.type_name());
    }
    Object kept;
    for (const auto& [k, v] : message.as_object().entries()) {
      if (!v.is_none()) kept.set(k, v);
    }
    const Value* reasoning = nullptr;
    for (const char* key : {"reasoning_content", "thinking", "reasoning"}) {
      if (!reasoning) reasoning = kept.find(key);
    }
    if (reasoning) {
      const Value r = *reasoning;
      Object aliased;
      aliased.set("thinking", r);
      for (const auto& [k, v] : kept.entries()) aliased.set(k, v);
      aliased.set("reasoning_content", r);
      kept = std::move(aliased);
    }
    prepared.emplace_back(std::move(kept));
  }
  return Value(std::move(prepared));
}

}  // namespace

ChatRequest ChatRequest::from_json(std::string_view json_text, std::string_view origin) {
  const Value root = Value::from_json(json_text, origin);
  if (!root.is_object()) throw std::runtime_error(std::string(origin) + ": a chat request must be a JSON object");
  ChatRequest request;
  bool has_messages = false;
  for (const auto& [k, v] : root.as_object().entries()) {
    if (k == "messages") {
      if (!v.is_array()) throw std::runtime_error(std::string(origin) + ": 'messages' must be a list");
      request.messages = v;
      has_messages = true;
    } else if (k == "add_generation_prompt") {
      if (!v.is_bool()) throw std::runtime_error(std::string(origin) + ": 'add_generation_prompt' must be true or false");
      request.add_generation_prompt = v.as_bool();
    } else if (k == "tools") {
      if (!v.is_array() && !v.is_none()) throw std::runtime_error(std::string(origin) + ": 'tools' must be a list or null");
      request.tools = v;
    } else if (k == "documents") {
      request.documents = v;
    } else {
      request.extra.set(k, v);
    }
  }
  if (!has_messages) throw std::runtime_error(std::string(origin) + ": missing 'messages'");
  return request;
}

ChatTemplate ChatTemplate::from_tokenizer_config(const std::filesystem::path& file) {
  std::optional<std::string> separate_file;
  const std::filesystem::path jinja = file.parent_path() / "chat_template.jinja";
  if (std::filesystem::exists(jinja)) separate_file = read_text_file(jinja);
  return from_config(read_text_file(file), file.string(), separate_file);
}

SpecialTokens ChatTemplate::special_tokens_of_config_json(std::string_view json_text, std::string_view origin) {
  return special_tokens_of(config_object(json_text, origin).as_object(), origin);
}

ChatTemplate ChatTemplate::from_tokenizer_config_json(std::string_view json_text, std::string_view origin,
                                                      const std::optional<std::string>& separate_template) {
  return from_config(json_text, origin, separate_template);
}

ChatTemplate ChatTemplate::from_config(std::string_view json_text, std::string_view origin,
                                       const std::optional<std::string>& separate_file) {
  const Value root = config_object(json_text, origin);
  const Object& config = root.as_object();
  SpecialTokens tokens = special_tokens_of(config, origin);

  // As in transformers, a chat_template.jinja file takes priority over the config's own field.
  if (separate_file) return from_string(*separate_file, std::move(tokens), "chat_template.jinja beside " + std::string(origin));
  const Value* field = config.find("chat_template");
  const std::string label = "chat template of " + std::string(origin);
  if (!field || field->is_none()) {
    throw std::runtime_error(std::string(origin) +
                             ": this model has no chat template (tokenizer_config.json has no 'chat_template' and "
                             "there is no chat_template.jinja); pass a template explicitly or use plain prompts");
  }
  if (field->is_string()) return from_string(field->as_string(), std::move(tokens), label);
  if (!field->is_array()) {
    throw std::runtime_error(std::string(origin) + ": 'chat_template' must be a string or a list of {name, template}");
  }
  ChatTemplate t;
  t.special_tokens_ = std::move(tokens);
  t.origin_ = label;
  for (const Value& entry : field->as_array()) {
    const Value* name = entry.is_object() ? entry.as_object().find("name") : nullptr;
    const Value* source = entry.is_object() ? entry.as_object().find("template") : nullptr;
    if (!name || !name->is_string() || !source || !source->is_string()) {
      throw std::runtime_error(std::string(origin) + ": each 'chat_template' list entry needs string 'name' and 'template'");
    }
    const std::string& n = name->as_string();
    if (n.empty()) throw std::runtime_error(std::string(origin) + ": a 'chat_template' list entry has an empty name");
    Template compiled = Template::parse(source->as_string(), label + " ('" + n + "')");
    t.templates_.insert_or_assign(n, Named{source->as_string(), std::move(compiled)});
  }
  if (t.templates_.empty()) throw std::runtime_error(std::string(origin) + ": 'chat_template' is an empty list");
  return t;
}

ChatTemplate ChatTemplate::from_string(std::string source, SpecialTokens special_tokens, std::string origin) {
  ChatTemplate t;
  t.special_tokens_ = std::move(special_tokens);
  t.origin_ = origin;
  Template compiled = Template::parse(source, std::move(origin));
  t.templates_.emplace("", Named{std::move(source), std::move(compiled)});
  return t;
}

std::vector<std::string> ChatTemplate::template_names() const {
  std::vector<std::string> names;
  for (const auto& [name, t] : templates_) {
    if (!name.empty()) names.push_back(name);
  }
  return names;
}

ChatTemplate ChatTemplate::select(std::string_view name) const {
  if (templates_.count(std::string(name)) == 0) {
    std::string available;
    for (const std::string& n : template_names()) available += (available.empty() ? "" : ", ") + n;
    throw std::runtime_error(origin_ + ": no chat template named '" + std::string(name) + "' (available: " +
                             (available.empty() ? "none, the model has a single template" : available) + ")");
  }
  ChatTemplate copy = *this;
  copy.chosen_ = name;
  return copy;
}

const ChatTemplate::Named& ChatTemplate::selected() const {
  if (!chosen_.empty() || templates_.count("")) return templates_.at(chosen_);
  if (auto it = templates_.find("default"); it != templates_.end()) return it->second;
  std::string available;
  for (const std::string& n : template_names()) available += (available.empty() ? "" : ", ") + n;
  throw std::runtime_error(origin_ + ": this model has multiple chat templates and none is named 'default'; pick one of: " +
                           available);
}

const ChatTemplate::Named& ChatTemplate::choose(const ChatRequest& request) const {
  // As transformers: with tools and no explicit choice, a template named "tool_use" wins.
  if (chosen_.empty() && !request.tools.is_none()) {
    if (auto it = templates_.find("tool_use"); it != templates_.end()) return it->second;
  }
  return selected();
}

std::string ChatTemplate::render(const ChatRequest& request, size_t max_work) const {
  const Named& chosen = choose(request);
  Object variables;
  variables.set("messages", prepare_messages(request.messages));
  variables.set("tools", request.tools);
  variables.set("documents", request.documents);
  variables.set("add_generation_prompt", Value(request.add_generation_prompt));
  const std::pair<const char*, const std::optional<std::string>*> tokens[] = {
      {"bos_token", &special_tokens_.bos_token}, {"eos_token", &special_tokens_.eos_token},
      {"unk_token", &special_tokens_.unk_token}, {"sep_token", &special_tokens_.sep_token},
      {"pad_token", &special_tokens_.pad_token}, {"cls_token", &special_tokens_.cls_token},
      {"mask_token", &special_tokens_.mask_token}};
  for (const auto& [name, value] : tokens) {
    if (*value) variables.set(name, Value(**value));
  }
  for (const auto& [k, v] : request.extra.entries()) variables.set(k, v);  // extras override special tokens
  return chosen.compiled.render(variables, max_work);
}

}  // namespace sabre::chat
