#pragma once
// POST /v1/chat/completions: the request body -> one engine GenerationRequest.
//
// The messages are rendered with the model's chat template (model/chat, as transformers'
// apply_chat_template with add_generation_prompt true) and the text is tokenized without adding special
// tokens, since the template wrote them. `tools` and `chat_template_kwargs` reach the template;
// max_completion_tokens (or its older name max_tokens) defaults to what the context leaves.

#include <string>
#include <string_view>

#include "actors/generation.hpp"
#include "io/openai/api_error.hpp"
#include "io/openai/expected.hpp"
#include "io/openai/model_context.hpp"
#include "io/openai/tool_calls.hpp"

namespace sabre::openai {

struct ChatPlan {
  std::string id;       // "chatcmpl-..."
  int64_t created = 0;  // Unix seconds
  std::string model;
  std::string prompt_text;    // the rendered conversation
  GenerationRequest request;  // prompt_token_ids set; asks for n samples
  int64_t n = 1;
  bool stream = false;
  bool include_usage = false;
  StreamFormat stream_format = StreamFormat::openai;
  bool logprobs = false;
  int64_t top_logprobs = 0;
  ToolPlan tools;  // how the choices are read for tool calls

  size_t num_choices() const { return static_cast<size_t>(n); }
  int64_t prompt_tokens() const { return static_cast<int64_t>(request.prompt_token_ids.size()); }
};

Expected<ChatPlan, ApiError> parse_chat_request(std::string_view body, const ModelContext& context);

// The conversation of a chat body ("messages", "tools", "chat_template_kwargs", "add_generation_prompt")
// as the template's input; shared with /tokenize. Throws ApiException.
class RequestFields;
chat::ChatRequest read_chat_conversation(const RequestFields& fields);
// Renders it, turning template failures (raise_exception, unsupported roles) into 400s on "messages".
std::string render_conversation(const chat::ChatTemplate& chat_template, const chat::ChatRequest& conversation);

}  // namespace sabre::openai
