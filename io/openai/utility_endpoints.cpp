#include "io/openai/utility_endpoints.hpp"

#include <fmt/format.h>

#include "io/openai/chat_request.hpp"
#include "io/openai/request_fields.hpp"
#include "io/openai/sampling_fields.hpp"
#include "config/text/json_writer.hpp"

namespace sabre::openai {

namespace {

std::string tokenize(std::string_view body, const ModelContext& context) {
  simdjson::dom::parser parser;
  const RequestFields fields(parse_body_object(parser, body));
  check_model_field(fields, context);
  if (!context.tokenizer) reject("", "this model has no tokenizer");
  const bool has_prompt = fields.get("prompt").has_value();
  const bool has_messages = fields.get("messages").has_value();
  if (has_prompt == has_messages) reject("prompt", "send either 'prompt' or 'messages'");

  std::string text;
  bool add_special_tokens = true;
  if (has_prompt) {
    text = *fields.string("prompt");
  } else {
    if (!context.chat_template) reject("messages", "this model has no chat template");
    text = render_conversation(*context.chat_template, read_chat_conversation(fields));
    add_special_tokens = false;  // the template wrote them
  }
  add_special_tokens = fields.boolean("add_special_tokens").value_or(add_special_tokens);
  const bool return_token_strs = fields.boolean("return_token_strs").value_or(false);
  const std::vector<TokenId> ids = context.tokenizer->encode(text, add_special_tokens);

  std::string out = fmt::format("{{\"count\":{},\"max_model_len\":{},\"tokens\":[", ids.size(), context.max_model_len);
  for (size_t i = 0; i < ids.size(); ++i) fmt::format_to(std::back_inserter(out), "{}{}", i ? "," : "", ids[i]);
  out += "],\"token_strs\":";
  if (return_token_strs) {
    out += '[';
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i) out += ',';
      append_json_string(out, context.tokenizer->id_to_token(ids[i]).value_or(""));
    }
    out += ']';
  } else {
    out += "null";
  }
  out += '}';
  return out;
}

std::string detokenize(std::string_view body, const ModelContext& context) {
  simdjson::dom::parser parser;
  const RequestFields fields(parse_body_object(parser, body));
  check_model_field(fields, context);
  if (!context.tokenizer) reject("", "this model has no tokenizer");
  const auto tokens = fields.integers("tokens", 0, context.effective_vocab_size() - 1);
  if (!tokens) reject("tokens", "'tokens' is required");
  const std::vector<TokenId> ids(tokens->begin(), tokens->end());
  std::string out = "{\"prompt\":";
  append_json_string(out, context.tokenizer->decode(ids, /*skip_special_tokens=*/false));
  out += '}';
  return out;
}

template <class Fn>
Expected<std::string, ApiError> guarded(Fn&& fn) {
  try {
    return fn();
  } catch (const ApiException& e) {
    return e.error();
  }
}

}  // namespace

Expected<std::string, ApiError> tokenize_response(std::string_view body, const ModelContext& context) {
  return guarded([&] { return tokenize(body, context); });
}

Expected<std::string, ApiError> detokenize_response(std::string_view body, const ModelContext& context) {
  return guarded([&] { return detokenize(body, context); });
}

std::string models_response(const ModelContext& context) {
  std::string out = "{\"object\":\"list\",\"data\":[{\"id\":";
  append_json_string(out, context.served_model_name);
  fmt::format_to(std::back_inserter(out), ",\"object\":\"model\",\"created\":{},\"owned_by\":\"sabre\",\"root\":",
                 context.created);
  append_json_string(out, context.model_root.empty() ? context.served_model_name : context.model_root);
  fmt::format_to(std::back_inserter(out), ",\"parent\":null,\"max_model_len\":{}}}]}}", context.max_model_len);
  return out;
}

}  // namespace sabre::openai
