#pragma once
// A model's chat template, rendered exactly as transformers' `apply_chat_template(..., tokenize=False)`
// renders it: the same jinja2 settings (trim_blocks, lstrip_blocks, loop controls), the same globals
// (raise_exception, strftime_now, tojson without HTML escaping), the same preprocessing of messages
// (keys whose value is None dropped, reasoning aliased under reasoning_content/thinking) and the same
// variables (messages, tools, documents, add_generation_prompt, the named special tokens, extras).

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/chat/template.hpp"
#include "model/chat/value.hpp"

namespace sabre::chat {

// The named special tokens transformers passes to every template (bos_token, eos_token, ...).
struct SpecialTokens {
  std::optional<std::string> bos_token, eos_token, unk_token, sep_token, pad_token, cls_token, mask_token;
};

// One conversation to render.
struct ChatRequest {
  Value messages = Value(Array{});  // list of {"role": ..., "content": ...} objects
  bool add_generation_prompt = false;
  Value tools = Value(nullptr);      // list of JSON schemas, or None
  Value documents = Value(nullptr);  // list of documents, or None
  Object extra;                      // further variables: enable_thinking, date_string, ...

  // Reads {"messages": [...], "add_generation_prompt": bool, "tools": [...], "documents": [...], ...};
  // every other key becomes an extra variable. Throws std::runtime_error naming `origin`.
  static ChatRequest from_json(std::string_view json_text, std::string_view origin);
};

// Parsed once; render() is const and touches no shared mutable state, so one ChatTemplate can serve
// many requests on many threads at once.
class ChatTemplate {
 public:
  // Reads `chat_template` from a tokenizer_config.json (a string, or a list of {name, template}) or,
  // taking priority, a chat_template.jinja file beside it, plus the special tokens. Throws std::runtime_error when the
  // model has no chat template, and TemplateError when the template does not parse.
  static ChatTemplate from_tokenizer_config(const std::filesystem::path& file);
  // `separate_template` is the text of a chat_template.jinja shipped beside the config; it takes priority
  // over the config's "chat_template", as in transformers and from_tokenizer_config.
  static ChatTemplate from_tokenizer_config_json(std::string_view json_text, std::string_view origin,
                                                 const std::optional<std::string>& separate_template = std::nullopt);
  static ChatTemplate from_string(std::string source, SpecialTokens special_tokens,
                                  std::string origin = "chat template");
  // The special tokens named in tokenizer_config.json text, for a template that comes from elsewhere
  // (--chat-template FILE). Throws std::runtime_error naming `origin`.
  static SpecialTokens special_tokens_of_config_json(std::string_view json_text, std::string_view origin);

  // Renders one conversation. Throws TemplateError (with template line and column) when the
  // template fails, e.g. through raise_exception("..."), and std::runtime_error for an empty
  // conversation or a message that is not an object.
  // `max_work` bounds the render's work as Template::render does.
  std::string render(const ChatRequest& request, size_t max_work = kMaxRenderWork) const;

  // Names of the templates when tokenizer_config.json held a list ("default", "tool_use", "rag", ...);
  // empty for a single template.
  std::vector<std::string> template_names() const;
  // The same model's template called `name`; throws std::runtime_error naming the ones available.
  ChatTemplate select(std::string_view name) const;

  const std::string& source() const { return selected().source; }
  const SpecialTokens& special_tokens() const { return special_tokens_; }

 private:
  struct Named {
    std::string source;
    Template compiled;
  };
  ChatTemplate() = default;
  // `separate_file` is the text of a chat_template.jinja found beside tokenizer_config.json; as in
  // transformers it takes priority over the config's "chat_template" (newer Hub repositories store it there).
  static ChatTemplate from_config(std::string_view json_text, std::string_view origin,
                                  const std::optional<std::string>& separate_file);
  const Named& selected() const;
  const Named& choose(const ChatRequest& request) const;

  std::map<std::string, Named> templates_;  // "" for a single template
  std::string chosen_;                      // a name fixed by select(), or empty
  SpecialTokens special_tokens_;
  std::string origin_;
};

}  // namespace sabre::chat
