#include "io/openai/chat_response.hpp"

#include <fmt/format.h>

#include "config/text/json_writer.hpp"
#include "io/openai/prompt_logprobs.hpp"

namespace sabre::openai {

namespace {

// {"token":"..","logprob":x,"bytes":[..]} without the closing brace.
void append_token_entry(std::string& out, const std::string& spelling, float logprob) {
  out += "{\"token\":";
  append_json_string(out, spelling);
  out += ",\"logprob\":";
  append_logprob(out, logprob);
  out += ",\"bytes\":[";
  for (size_t i = 0; i < spelling.size(); ++i) {
    if (i) out += ',';
    fmt::format_to(std::back_inserter(out), "{}", static_cast<unsigned>(static_cast<unsigned char>(spelling[i])));
  }
  out += ']';
}

// OpenAI's chat logprobs object: {"content":[{"token","logprob","bytes","top_logprobs":[...]}, ...]}.
std::string chat_logprobs(const std::vector<SampledToken>& tokens, const TokenSpeller& speller) {
  std::string out = "{\"content\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    append_token_entry(out, speller.spell(tokens[i].token), tokens[i].logprob);
    out += ",\"top_logprobs\":[";
    for (size_t j = 0; j < tokens[i].top_logprobs.size(); ++j) {
      if (j) out += ',';
      const TokenLogprob& top = tokens[i].top_logprobs[j];
      append_token_entry(out, speller.spell(top.token), top.logprob);
      out += '}';
    }
    out += "]}";
  }
  out += "]}";
  return out;
}

}  // namespace

// ---- non-streamed ----

ChatResponseBuilder::ChatResponseBuilder(const ChatPlan& plan, std::shared_ptr<const Tokenizer> tokenizer)
    : id_(plan.id),
      model_(plan.model),
      created_(plan.created),
      logprobs_(plan.logprobs),
      prompt_logprobs_(plan.request.prompt_logprobs),
      prompt_ids_(plan.request.prompt_logprobs >= 0 ? plan.request.prompt_token_ids : std::vector<int32_t>{}),
      tools_(plan.tools),
      speller_(std::move(tokenizer), false),
      choices_(plan.num_choices(), plan.prompt_tokens()) {}

void ChatResponseBuilder::add(const TokenDelta& delta) {
  choices_.add(static_cast<size_t>(delta.index), delta, true);
}

void ChatResponseBuilder::finish(const GenerationFinished& finished) {
  choices_.finish(static_cast<size_t>(finished.index), finished);
}

std::string ChatResponseBuilder::body() const {
  std::string out = "{\"id\":";
  append_json_string(out, id_);
  fmt::format_to(std::back_inserter(out), ",\"object\":\"chat.completion\",\"created\":{},\"model\":", created_);
  append_json_string(out, model_);
  out += ",\"choices\":[";
  for (size_t i = 0; i < choices_.size(); ++i) {
    const ChoiceProgress& c = choices_.at(i);
    if (i) out += ',';
    fmt::format_to(std::back_inserter(out), "{{\"index\":{},\"message\":{{\"role\":\"assistant\",\"content\":", i);
    const ParsedMessage message = parse_tool_calls(tools_, c.text);
    if (message.calls.empty()) {
      append_json_string(out, c.text);
    } else {
      // With calls, OpenAI's content is null unless the model also wrote text.
      if (message.content.empty()) out += "null";
      else append_json_string(out, message.content);
      out += ",\"tool_calls\":";
      out += tool_calls_json(message.calls, false);
    }
    out += "},\"logprobs\":";
    out += logprobs_ ? chat_logprobs(c.logprobs, speller_) : std::string("null");
    out += ",\"finish_reason\":";
    if (c.finished) {
      const bool called = !message.calls.empty() && c.finish_reason == FinishReason::stop;
      append_json_string(out, called ? std::string_view("tool_calls") : finish_reason_name(c.finish_reason));
    } else {
      out += "null";
    }
    out += '}';
  }
  out += "],\"usage\":";
  append_usage(out, choices_.prompt_tokens(), choices_.completion_tokens());
  if (prompt_logprobs_ >= 0) {
    // The choices share the prompt: its scores once, at the top as vLLM writes them.
    out += ",\"prompt_logprobs\":";
    append_prompt_logprobs(out, prompt_ids_, choices_.at(0).prompt_logprobs, static_cast<size_t>(prompt_logprobs_),
                           speller_);
  }
  out += '}';
  return out;
}

// ---- streamed ----

ChatStreamEncoder::ChatStreamEncoder(const ChatPlan& plan, std::shared_ptr<const Tokenizer> tokenizer)
    : id_(plan.id),
      model_(plan.model),
      created_(plan.created),
      style_{plan.stream_format, plan.include_usage},
      logprobs_(plan.logprobs),
      tool_streams_(plan.num_choices(), ToolCallStream(plan.tools)),
      speller_(std::move(tokenizer), false),
      choices_(plan.num_choices(), plan.prompt_tokens()) {}

std::string ChatStreamEncoder::envelope_head() const {
  std::string out = "{\"id\":";
  append_json_string(out, id_);
  fmt::format_to(std::back_inserter(out), ",\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":",
                 created_);
  append_json_string(out, model_);
  return out;
}

std::string ChatStreamEncoder::chunk(size_t choice, const std::string& delta_json, std::string_view finish_reason,
                                     const std::string& logprobs_json) const {
  std::string out = envelope_head();
  fmt::format_to(std::back_inserter(out), ",\"choices\":[{{\"index\":{},\"delta\":", choice);
  out += delta_json;
  out += ",\"logprobs\":";
  out += logprobs_json.empty() ? std::string("null") : logprobs_json;
  out += ",\"finish_reason\":";
  style_.append_finish_reason(out, finish_reason);
  out += "}]";
  style_.append_chunk_tail(out, choices_.prompt_tokens(), choices_.completion_tokens());
  out += '}';
  return sse_event(out);
}

std::string ChatStreamEncoder::begin() {
  std::string out;
  for (size_t choice = 0; choice < choices_.size(); ++choice) {
    out += chunk(choice, "{\"role\":\"assistant\",\"content\":\"\"}", "", "");
  }
  return out;
}

std::string ChatStreamEncoder::on_delta(const TokenDelta& delta) {
  const size_t choice = static_cast<size_t>(delta.index);
  if (failed_ || !choices_.add(choice, delta, false)) return "";
  const bool with_logprobs = logprobs_ && !delta.logprobs.empty();
  const std::string text = tool_streams_[choice].push(delta.text);
  if (text.empty() && !with_logprobs) return "";
  std::string delta_json = "{\"content\":";
  append_json_string(delta_json, text);
  delta_json += '}';
  return chunk(choice, delta_json, "", with_logprobs ? chat_logprobs(delta.logprobs, speller_) : std::string());
}

std::string ChatStreamEncoder::on_finished(const GenerationFinished& finished) {
  const size_t choice = static_cast<size_t>(finished.index);
  if (failed_ || !choices_.finish(choice, finished)) return "";
  if (finished.finish_reason != FinishReason::error) {
    // What the tool-call reader held back: content, then the calls, each its own delta.
    const ParsedMessage rest = tool_streams_[choice].finish();
    std::string out;
    if (!rest.content.empty()) {
      std::string delta_json = "{\"content\":";
      append_json_string(delta_json, rest.content);
      out += chunk(choice, delta_json + "}", "", "");
    }
    if (!rest.calls.empty()) out += chunk(choice, "{\"tool_calls\":" + tool_calls_json(rest.calls, true) + "}", "", "");
    const bool called = !rest.calls.empty() && finished.finish_reason == FinishReason::stop;
    const std::string_view reason = called ? std::string_view("tool_calls") : finish_reason_name(finished.finish_reason);
    return out + chunk(choice, "{}", reason, "");
  }
  failed_ = true;
  const std::string error = error_object(*choices_.error());
  std::string out = envelope_head();
  out += ",\"choices\":[]";
  style_.append_error_tail(out, error, choices_.prompt_tokens(), choices_.completion_tokens());
  out += '}';
  return sse_event(out);
}

std::string ChatStreamEncoder::end() {
  std::string out;
  if (style_.sends_usage_chunk() && !failed_) {
    std::string json = envelope_head();
    json += ",\"choices\":[]";
    style_.append_usage_chunk_tail(json, choices_.prompt_tokens(), choices_.completion_tokens());
    json += '}';
    out += sse_event(json);
  }
  out += kSseDone;
  return out;
}

}  // namespace sabre::openai
