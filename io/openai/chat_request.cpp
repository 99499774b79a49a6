#include "io/openai/chat_request.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "io/openai/output_constraints.hpp"
#include "io/openai/tool_plan.hpp"
#include "io/openai/request_fields.hpp"
#include "io/openai/sampling_fields.hpp"
#include "model/chat/error.hpp"

namespace sabre::openai {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

// JSON -> the template's values, keeping key order and ints apart from floats (as Python's json would).
chat::Value to_template_value(const element& e) {
  switch (e.type()) {
    case element_type::NULL_VALUE: return chat::Value(nullptr);
    case element_type::BOOL: return chat::Value(e.get_bool().value());
    case element_type::INT64: return chat::Value(e.get_int64().value());
    case element_type::UINT64: return chat::Value(static_cast<double>(e.get_uint64().value()));
    case element_type::DOUBLE: return chat::Value(e.get_double().value());
    case element_type::STRING: return chat::Value(std::string(e.get_string().value()));
    case element_type::ARRAY: {
      chat::Array items;
      for (element item : e.get_array()) items.push_back(to_template_value(item));
      return chat::Value(std::move(items));
    }
    case element_type::OBJECT: {
      chat::Object object;
      for (auto [key, value] : e.get_object()) object.set(std::string(key), to_template_value(value));
      return chat::Value(std::move(object));
    }
  }
  return chat::Value(nullptr);
}

// An assistant message's tool_calls for the template, each function's arguments as an object even when
// the client sent them as a JSON string (as OpenAI's clients do): templates such as Llama 3.1's write
// `arguments | tojson`, which would quote a string a second time.
chat::Value template_tool_calls(const element& calls) {
  chat::Value value = to_template_value(calls);
  if (!calls.is_array()) return value;
  simdjson::dom::parser parser;
  size_t i = 0;
  for (element call : calls.get_array()) {
    element arguments;
    std::string_view text;
    if (call["function"]["arguments"].get(arguments) || arguments.get(text)) {
      ++i;
      continue;
    }
    element parsed;
    // The template value keeps a repeated key's last value, simdjson's lookup its first: check both.
    chat::Value* function = value.as_array()[i].as_object().find("function");
    if (function != nullptr && function->is_object() && !parser.parse(text.data(), text.size()).get(parsed) &&
        parsed.is_object()) {
      function->as_object().set("arguments", to_template_value(parsed));
    }
    ++i;
  }
  return value;
}

// A message's content: a string, null, or a list of {"type": "text", "text": ...} parts joined by
// newlines (vLLM's "string" content format).
chat::Value read_content(const RequestFields& message, const std::string& param, const std::string& role) {
  const auto content = message.get("content");
  if (!content) {
    // An assistant message with only tool_calls: "" as vLLM passes it (templates read message.content,
    // and a None value would be dropped from the message altogether).
    if (role == "assistant") return chat::Value(std::string());
    reject(param, fmt::format("'{}' is required for a {} message", param, role));
  }
  if (content->is_string()) return chat::Value(std::string(content->get_string().value()));
  simdjson::dom::array parts;
  if (content->get_array().get(parts)) {
    reject(param, fmt::format("'{}' must be a string or a list of content parts, got {}", param,
                              describe_json_type(*content)));
  }
  std::string text;
  size_t j = 0;
  for (element part : parts) {
    const std::string part_param = fmt::format("{}[{}]", param, j);
    simdjson::dom::object part_object;
    if (part.get_object().get(part_object)) {
      reject(part_param, fmt::format("'{}' must be an object, got {}", part_param, describe_json_type(part)));
    }
    const RequestFields part_fields(part_object, part_param + ".");
    const std::string type = part_fields.string("type").value_or("");
    if (type != "text") {
      reject(part_param + ".type",
             fmt::format("'{}.type' is '{}': only text content parts are supported", part_param, type));
    }
    const auto part_text = part_fields.string("text");
    if (!part_text) reject(part_param + ".text", fmt::format("'{}.text' is required", part_param));
    if (j++ > 0) text += '\n';
    text += *part_text;
  }
  return chat::Value(std::move(text));
}

void check_tool_calls(const RequestFields& message, const std::string& param) {
  const auto calls = message.get("tool_calls");
  if (!calls) return;
  simdjson::dom::array items;
  if (calls->get_array().get(items)) {
    reject(param + ".tool_calls",
           fmt::format("'{}.tool_calls' must be a list, got {}", param, describe_json_type(*calls)));
  }
  size_t i = 0;
  for (element item : items) {
    const std::string call_param = fmt::format("{}.tool_calls[{}]", param, i++);
    simdjson::dom::object object;
    if (item.get_object().get(object)) {
      reject(call_param, fmt::format("'{}' must be an object, got {}", call_param, describe_json_type(item)));
    }
    const RequestFields call(object, call_param + ".");
    if (!call.string("id")) reject(call_param + ".id", fmt::format("'{}.id' is required", call_param));
    if (call.string("type").value_or("") != "function") {
      reject(call_param + ".type", fmt::format("'{}.type' must be \"function\"", call_param));
    }
    const auto function = call.object("function");
    if (!function) reject(call_param + ".function", fmt::format("'{}.function' is required", call_param));
    if (!function->string("name")) {
      reject(call_param + ".function.name", fmt::format("'{}.function.name' is required", call_param));
    }
    // OpenAI sends the arguments as a JSON string; Hugging Face's chat templates also take an object.
    const auto arguments = function->get("arguments");
    if (!arguments || !(arguments->is_string() || arguments->is_object())) {
      reject(call_param + ".function.arguments",
             fmt::format("'{}.function.arguments' is required: a JSON string (or an object)", call_param));
    }
  }
}

// What OpenAI requires of a message beyond its role and content.
void check_message_fields(const RequestFields& message, const std::string& param, const std::string& role) {
  message.string("name");
  if (role == "tool" && !message.string("tool_call_id")) {
    reject(param + ".tool_call_id", fmt::format("'{}.tool_call_id' is required for a tool message", param));
  }
  if (role == "assistant") {
    check_tool_calls(message, param);
  } else if (message.get("tool_calls")) {
    reject(param + ".tool_calls", fmt::format("'{}.tool_calls' is only allowed on an assistant message", param));
  }
}

chat::Value read_messages(const RequestFields& fields) {
  const auto messages = fields.get("messages");
  if (!messages) reject("messages", "'messages' is required");
  simdjson::dom::array items;
  if (messages->get_array().get(items)) {
    reject("messages", fmt::format("'messages' must be a list, got {}", describe_json_type(*messages)));
  }
  if (items.size() == 0) reject("messages", "'messages' must not be empty");
  chat::Array out;
  size_t i = 0;
  for (element item : items) {
    const std::string param = fmt::format("messages[{}]", i++);
    simdjson::dom::object object;
    if (item.get_object().get(object)) {
      reject(param, fmt::format("'{}' must be an object, got {}", param, describe_json_type(item)));
    }
    const RequestFields message(object, param + ".");
    const auto role = message.string("role");
    if (!role) reject(param + ".role", fmt::format("'{}.role' is required", param));
    std::string template_role = *role;
    if (template_role == "developer") template_role = "system";  // OpenAI's newer name for it
    if (template_role != "system" && template_role != "user" && template_role != "assistant" &&
        template_role != "tool") {
      reject(param + ".role", fmt::format("'{}.role' must be one of system, developer, user, assistant, tool; got "
                                          "'{}'",
                                          param, *role));
    }
    check_message_fields(message, param, template_role);
    chat::Object converted;
    converted.set("role", chat::Value(template_role));
    converted.set("content", read_content(message, param + ".content", template_role));
    for (auto [key, value] : object) {
      if (key == "role" || key == "content") continue;
      // name, tool_calls, tool_call_id, ...
      converted.set(std::string(key), key == "tool_calls" ? template_tool_calls(value) : to_template_value(value));
    }
    out.push_back(chat::Value(std::move(converted)));
  }
  return chat::Value(std::move(out));
}

void check_function_name(const std::optional<std::string>& name, const std::string& param) {
  if (!name) reject(param, fmt::format("'{}' is required", param));
  if (!valid_function_name(*name)) {
    reject(param, fmt::format("'{}' must be 1 to 64 letters, digits, '_' or '-', got \"{}\"", param, *name));
  }
}

// The declared functions' names, for checking a named tool_choice against them.
std::vector<std::string> check_tools(const simdjson::dom::array& items) {
  std::vector<std::string> names;
  size_t i = 0;
  for (element item : items) {
    const std::string param = fmt::format("tools[{}]", i++);
    simdjson::dom::object object;
    if (item.get_object().get(object)) {
      reject(param, fmt::format("'{}' must be an object, got {}", param, describe_json_type(item)));
    }
    const RequestFields tool(object, param + ".");
    if (tool.string("type").value_or("") != "function") {
      reject(param + ".type", fmt::format("'{}.type' must be \"function\"", param));
    }
    const auto function = tool.object("function");
    if (!function) reject(param + ".function", fmt::format("'{}.function' is required", param));
    const auto name = function->string("name");
    check_function_name(name, param + ".function.name");
    function->string("description");
    function->boolean("strict");
    function->object("parameters");
    names.push_back(*name);
  }
  return names;
}

chat::Value read_tools(const RequestFields& fields, std::vector<std::string>& names) {
  const auto tools = fields.get("tools");
  if (!tools) return chat::Value(nullptr);
  simdjson::dom::array items;
  if (tools->get_array().get(items)) {
    reject("tools", fmt::format("'tools' must be a list, got {}", describe_json_type(*tools)));
  }
  names = check_tools(items);
  return items.size() == 0 ? chat::Value(nullptr) : to_template_value(*tools);
}

void read_tool_choice(const RequestFields& fields, const std::vector<std::string>& tool_names,
                      chat::ChatRequest& conversation) {
  const auto choice = fields.get("tool_choice");
  if (!choice) return;
  if (choice->is_string()) {
    const std::string_view value = choice->get_string().value();
    if (value != "none" && value != "auto" && value != "required") {
      reject("tool_choice", fmt::format("'tool_choice' must be \"none\", \"auto\", \"required\" or a named "
                                        "function, got \"{}\"",
                                        value));
    }
    if (value == "none") {
      conversation.extra.set("tool_choice", chat::Value(std::string(value)));
      return;
    }
  } else if (const auto named = fields.object("tool_choice")) {
    if (named->string("type").value_or("") != "function") {
      reject("tool_choice.type", "'tool_choice.type' must be \"function\"");
    }
    const auto function = named->object("function");
    if (!function) reject("tool_choice.function", "'tool_choice.function' is required");
    const auto name = function->string("name");
    check_function_name(name, "tool_choice.function.name");
    if (tool_names.empty()) reject("tool_choice", "'tool_choice' other than \"none\" needs 'tools'");
    if (std::find(tool_names.begin(), tool_names.end(), *name) == tool_names.end()) {
      reject("tool_choice.function.name",
             fmt::format("'tool_choice.function.name' is \"{}\", which is not among 'tools'", *name));
    }
  }
  if (tool_names.empty()) reject("tool_choice", "'tool_choice' other than \"none\" needs 'tools'");
  // "required" and a named function are enforced by guided decoding (tool_plan.cpp); the template sees
  // the choice as given.
  if (choice->is_string()) conversation.extra.set("tool_choice", chat::Value(std::string(choice->get_string().value())));
}

void read_template_kwargs(const RequestFields& fields, chat::ChatRequest& conversation) {
  const auto kwargs = fields.object("chat_template_kwargs");
  if (!kwargs) return;
  for (auto [key, value] : kwargs->raw()) {
    const std::string name(key);
    if (name == "add_generation_prompt") {
      if (!value.is_bool()) reject("chat_template_kwargs.add_generation_prompt", "'chat_template_kwargs."
                                                                                 "add_generation_prompt' must be "
                                                                                 "true or false");
      conversation.add_generation_prompt = value.get_bool().value();
    } else if (name == "messages" || name == "tools" || name == "documents") {
      reject("chat_template_kwargs." + name,
             fmt::format("'chat_template_kwargs.{}' is not allowed: pass '{}' as a request field", name, name));
    } else {
      conversation.extra.set(name, to_template_value(value));
    }
  }
}

ChatPlan build_plan(std::string_view body, const ModelContext& context) {
  simdjson::dom::parser parser;
  const RequestFields fields(parse_body_object(parser, body));
  check_model_field(fields, context);
  const std::optional<OutputConstraint> constraint = read_output_constraint(fields);
  if (!context.chat_template) {
    reject("messages", "this model has no chat template: use /v1/completions, or start the server with "
                       "--chat-template FILE");
  }
  if (!context.tokenizer) reject("messages", "this model has no tokenizer, which chat completions need");

  ChatPlan plan;
  plan.id = make_response_id("chatcmpl-");
  plan.created = static_cast<int64_t>(std::time(nullptr));
  plan.model = context.served_model_name;

  GenerationRequest& request = plan.request;
  read_sampling_fields(fields, context, request);
  if (constraint) request.sampling.guided = constraint->guided;
  plan.tools = read_tool_plan(fields, context.tool_call_format);
  std::string guided_field = constraint ? constraint->field : "guided_decoding";
  if (plan.tools.constraint) {
    if (constraint) {
      reject(constraint->field, fmt::format("'{}' cannot be combined with a tool_choice that forces a call",
                                            constraint->field));
    }
    request.sampling.guided = *plan.tools.constraint;
    guided_field = "tools";
  }
  plan.n = request.n;
  const StreamFields stream = read_stream_fields(fields);
  plan.stream = stream.stream;
  plan.include_usage = stream.include_usage;
  plan.stream_format = context.stream_format.value_or(StreamFormat::openai);
  plan.logprobs = fields.boolean("logprobs").value_or(false);
  if (auto top = fields.integer("top_logprobs", 0, context.max_logprobs)) {
    if (!plan.logprobs && *top > 0) reject("top_logprobs", "'top_logprobs' needs 'logprobs' set to true");
    plan.top_logprobs = *top;
  }
  request.logprobs = plan.logprobs;
  request.sampling.top_logprobs = plan.top_logprobs;
  request.prompt_logprobs = read_prompt_logprobs(fields, stream, context);
  if (auto user = fields.get("user"); user && !user->is_string()) {
    reject("user", fmt::format("'user' must be a string, got {}", describe_json_type(*user)));
  }

  const chat::ChatRequest conversation = read_chat_conversation(fields);
  plan.prompt_text = render_conversation(*context.chat_template, conversation);
  request.prompt_token_ids = context.tokenizer->encode(plan.prompt_text, /*add_special_tokens=*/false);
  if (request.prompt_token_ids.empty()) reject("messages", "the conversation renders to no tokens");

  std::string max_tokens_param = "max_completion_tokens";
  std::optional<int64_t> max_tokens = fields.integer("max_completion_tokens", 1, INT64_MAX);
  if (!max_tokens) {
    max_tokens = fields.integer("max_tokens", 1, INT64_MAX);
    max_tokens_param = "max_tokens";
  }
  const int64_t prompt_tokens = plan.prompt_tokens();
  // Without a limit the answer may fill the context (an over-long conversation is still refused by name).
  request.max_tokens = max_tokens.value_or(std::max<int64_t>(1, context.max_model_len - prompt_tokens));
  check_request(request, context, {"messages", max_tokens_param, guided_field});
  return plan;
}

}  // namespace

Expected<ChatPlan, ApiError> parse_chat_request(std::string_view body, const ModelContext& context) {
  try {
    return build_plan(body, context);
  } catch (const ApiException& e) {
    return e.error();
  }
}

chat::ChatRequest read_chat_conversation(const RequestFields& fields) {
  chat::ChatRequest conversation;
  conversation.messages = read_messages(fields);
  std::vector<std::string> tool_names;
  conversation.tools = read_tools(fields, tool_names);
  conversation.add_generation_prompt = fields.boolean("add_generation_prompt").value_or(true);
  read_tool_choice(fields, tool_names, conversation);
  fields.boolean("parallel_tool_calls");
  read_template_kwargs(fields, conversation);
  return conversation;
}

std::string render_conversation(const chat::ChatTemplate& chat_template, const chat::ChatRequest& conversation) {
  try {
    return chat_template.render(conversation);
  } catch (const chat::TemplateError& e) {
    reject("messages", fmt::format("the chat template rejected the conversation: {}", e.what()));
  } catch (const std::runtime_error& e) {
    reject("messages", fmt::format("the conversation cannot be rendered: {}", e.what()));
  }
}

}  // namespace sabre::openai
