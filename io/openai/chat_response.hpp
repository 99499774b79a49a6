#pragma once
// Responses of POST /v1/chat/completions, from the engine's TokenDelta / GenerationFinished messages.
//
// Non-streamed: OpenAI's chat.completion object (choices with message {role, content}, logprobs,
// finish_reason; usage). Streamed: OpenAI's chat.completion.chunk events — per choice a role delta
// first ({"role":"assistant","content":""}), then content deltas, then an empty delta with the
// finish_reason — in the plan's StreamFormat (OpenAI's by default: usage only in a final chunk, with
// stream_options.include_usage); then `data: [DONE]`. With tools, tool calls are read out of each choice
// (tool_calls.hpp): message.tool_calls, or a streamed delta.tool_calls once the choice ends, and
// finish_reason "tool_calls".

#include <memory>
#include <string>

#include "io/openai/chat_request.hpp"
#include "io/openai/response_common.hpp"

namespace sabre::openai {

class ChatResponseBuilder {
 public:
  ChatResponseBuilder(const ChatPlan& plan, std::shared_ptr<const Tokenizer> tokenizer);

  void add(const TokenDelta& delta);
  void finish(const GenerationFinished& finished);

  bool complete() const { return choices_.complete(); }
  const std::optional<ApiError>& error() const { return choices_.error(); }
  std::string body() const;

 private:
  std::string id_, model_;
  int64_t created_ = 0;
  bool logprobs_ = false;
  int32_t prompt_logprobs_ = -1;  // vLLM's prompt_logprobs (-1: not asked for)
  std::vector<int32_t> prompt_ids_;  // when its scores are written
  ToolPlan tools_;
  TokenSpeller speller_;
  ChoiceTracker choices_;
};

class ChatStreamEncoder {
 public:
  ChatStreamEncoder(const ChatPlan& plan, std::shared_ptr<const Tokenizer> tokenizer);

  // The role delta of every choice.
  std::string begin();
  std::string on_delta(const TokenDelta& delta);
  // The finish chunk, or for finish_reason "error" an error event after which the stream is failed().
  std::string on_finished(const GenerationFinished& finished);
  // With stream_options.include_usage, a chunk with no choices and the final usage; then [DONE].
  std::string end();

  bool complete() const { return choices_.complete(); }
  bool failed() const { return failed_; }

 private:
  std::string chunk(size_t choice, const std::string& delta_json, std::string_view finish_reason,
                    const std::string& logprobs_json) const;
  std::string envelope_head() const;

  std::string id_, model_;
  int64_t created_ = 0;
  StreamStyle style_;
  bool logprobs_ = false;
  std::vector<ToolCallStream> tool_streams_;  // one per choice
  TokenSpeller speller_;
  ChoiceTracker choices_;
  bool failed_ = false;
};

}  // namespace sabre::openai
