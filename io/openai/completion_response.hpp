#pragma once
// Responses of POST /v1/completions, from the engine's TokenDelta / GenerationFinished messages.
//
// Non-streamed: CompletionResponseBuilder collects every choice and writes OpenAI's text_completion
// object once all have finished. Streamed: CompletionStreamEncoder turns each message into server-sent
// events in BladeLLM's chunk shape (DESIGN.md), which also suits OpenAI clients:
//   data: {"id":"cmpl-..","choices":[{"finish_reason":"","index":0,"logprobs":null,"text":" The"}],
//          "object":"text_completion","created":1700000000,"model":"m",
//          "usage":{"prompt_tokens":7,"completion_tokens":1,"total_tokens":8},"error_info":null}
// finish_reason is "" until a choice's last chunk ("stop", "length", "abort"), usage (running totals over
// the whole request) is in every chunk, and the stream ends with `data: [DONE]`.
//
// Messages are addressed by prompt index (the position of the GenerationRequest in plan.requests; the
// HTTP layer maps the engine's request id back to it) and the delta's sample index.

#include <memory>
#include <string>

#include "io/openai/completion_request.hpp"
#include "io/openai/response_common.hpp"

namespace sabre::openai {

class CompletionResponseBuilder {
 public:
  CompletionResponseBuilder(const CompletionPlan& plan, std::shared_ptr<const Tokenizer> tokenizer);

  void add(size_t prompt_index, const TokenDelta& delta);
  void finish(size_t prompt_index, const GenerationFinished& finished);

  bool complete() const { return choices_.complete(); }
  // Set when a sample ended in an error: answer with it instead of body().
  const std::optional<ApiError>& error() const { return choices_.error(); }
  std::string body() const;

 private:
  std::string id_, model_;
  int64_t created_ = 0;
  int64_t n_ = 1;
  std::vector<std::string> echo_;  // per prompt, when echo
  bool echo_only_ = false;         // CompletionPlan::echo_only
  std::optional<int64_t> logprobs_;
  int32_t prompt_logprobs_ = -1;    // vLLM's prompt_logprobs (-1: not asked for)
  std::vector<std::vector<int32_t>> prompt_ids_;  // per prompt, when its scores are written
  TokenSpeller speller_;
  ChoiceTracker choices_;
};

class CompletionStreamEncoder {
 public:
  CompletionStreamEncoder(const CompletionPlan& plan, std::shared_ptr<const Tokenizer> tokenizer);

  // The events to send before any delta: with echo, one chunk per choice holding its prompt (with
  // logprobs, that chunk carries the prompt's scores and goes out with the choice's first delta).
  std::string begin();
  // One chunk for the delta ("" for a delta with no text, unless it carries log-probabilities).
  std::string on_delta(size_t prompt_index, const TokenDelta& delta);
  // The choice's last chunk with its finish_reason; for finish_reason "error" an error event instead
  // (error_info and OpenAI's "error" set), after which the stream is failed() and says nothing more
  // but end(): the HTTP layer should abort the other samples and close.
  std::string on_finished(size_t prompt_index, const GenerationFinished& finished);
  // With stream_options.include_usage, a chunk with no choices and the final usage; then [DONE].
  std::string end();

  bool complete() const { return choices_.complete(); }
  bool failed() const { return failed_; }

 private:
  std::string chunk(size_t choice, std::string_view text, std::string_view finish_reason,
                    const std::string& logprobs_json) const;
  std::string envelope_tail() const;
  // The choice's echo chunk if it has not gone out yet (with the prompt's scores from `first_delta`).
  std::string echo_chunk(size_t choice, const TokenDelta* first_delta);

  std::string id_, model_;
  int64_t created_ = 0;
  int64_t n_ = 1;
  StreamStyle style_;
  std::vector<std::string> echo_;
  bool echo_only_ = false;  // CompletionPlan::echo_only
  std::optional<int64_t> logprobs_;
  std::vector<std::vector<int32_t>> prompt_ids_;  // per prompt, when its scores are written
  TokenSpeller speller_;
  ChoiceTracker choices_;
  std::vector<int64_t> text_offsets_;  // per choice
  std::vector<bool> echo_pending_;     // per choice: its echo chunk has yet to go out
  bool failed_ = false;
};

}  // namespace sabre::openai
