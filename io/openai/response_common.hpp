#pragma once
// Pieces the completion and chat response writers share: per-choice progress (text, tokens, finish
// reason) and the usage it adds up to, the usage object, log-probability numbers and token spellings.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/generation.hpp"
#include "io/openai/api_error.hpp"
#include "io/openai/stream_format.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace sabre::openai {

struct ChoiceProgress {
  std::string text;                     // everything streamed so far (non-streamed responses)
  std::vector<SampledToken> logprobs;   // likewise
  std::vector<SampledToken> prompt_logprobs;  // the prompt's scores, from the first delta that had them
  int64_t tokens = 0;                   // token ids seen in deltas
  int64_t text_offset = 0;              // characters of the tokens' spellings so far (completions logprobs)
  bool finished = false;
  FinishReason finish_reason = FinishReason::length;  // when finished
  std::optional<int64_t> final_tokens;  // the engine's count at the end (the EOS token included)

  int64_t completion_tokens() const { return final_tokens.value_or(tokens); }
};

// The choices of one response and the usage they add up to. Prompt tokens count once per prompt,
// completion tokens once per choice, as OpenAI and vLLM count them.
class ChoiceTracker {
 public:
  ChoiceTracker(size_t num_choices, int64_t prompt_tokens);

  // Records the delta/finish for `choice` (ignored once the choice has finished, or when out of range:
  // returns false then).
  bool add(size_t choice, const TokenDelta& delta, bool keep_text);
  bool finish(size_t choice, const GenerationFinished& finished);

  const ChoiceProgress& at(size_t choice) const { return choices_.at(choice); }
  size_t size() const { return choices_.size(); }
  bool complete() const { return unfinished_ == 0; }
  int64_t prompt_tokens() const { return prompt_tokens_; }
  int64_t completion_tokens() const;
  // The first sample that failed, as the error to answer with.
  const std::optional<ApiError>& error() const { return error_; }

 private:
  std::vector<ChoiceProgress> choices_;
  int64_t prompt_tokens_ = 0;
  size_t unfinished_ = 0;
  std::optional<ApiError> error_;
};

// {"prompt_tokens":P,"completion_tokens":C,"total_tokens":P+C}
void append_usage(std::string& out, int64_t prompt_tokens, int64_t completion_tokens);
// A log-probability as a JSON number; -inf (a masked token) becomes -9999.0, as vLLM writes it.
void append_logprob(std::string& out, float logprob);

// How log-probability entries spell a token: its decoded text (special tokens included), or
// "token_id:N" when asked (vLLM's return_tokens_as_token_ids) or when the model has no tokenizer.
class TokenSpeller {
 public:
  TokenSpeller(std::shared_ptr<const Tokenizer> tokenizer, bool as_token_ids);
  std::string spell(int32_t token) const;

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
  bool as_token_ids_ = false;
};

// Characters (code points) in UTF-8 text, as Python's len() counts them for text_offset.
int64_t count_characters(std::string_view text);

// How each StreamFormat writes a chunk:
// - openai: a choice's finish_reason is null until its last chunk; usage only with
//   stream_options.include_usage, then "usage":null in every chunk and the totals in a final chunk with
//   no choices; an error mid-stream is an event with "error".
// - bladellm: finish_reason "" until the last chunk; the running usage in every chunk and "error_info"
//   (null, or the error, which "error" repeats).
// The fields of a streamed chunk's envelope that depend on the format, each appended after a field
// (they start with a comma; the caller closes the object).
struct StreamStyle {
  StreamFormat format = StreamFormat::openai;
  bool include_usage = false;

  // A chunk's finish_reason value for `reason` ("" while the choice goes on).
  void append_finish_reason(std::string& out, std::string_view reason) const;
  // After "choices": the usage (or null, or nothing) and error_info, as the format has them.
  void append_chunk_tail(std::string& out, int64_t prompt_tokens, int64_t completion_tokens) const;
  // After "choices":[] of the final usage chunk: the totals.
  void append_usage_chunk_tail(std::string& out, int64_t prompt_tokens, int64_t completion_tokens) const;
  // After "choices":[] of an error event.
  void append_error_tail(std::string& out, const std::string& error_json, int64_t prompt_tokens,
                         int64_t completion_tokens) const;
  // Whether end() sends the final usage chunk.
  bool sends_usage_chunk() const { return include_usage; }
};

// "data: {json}\n\n": one server-sent event.
std::string sse_event(std::string_view json);
// The stream's last event.
inline constexpr std::string_view kSseDone = "data: [DONE]\n\n";

}  // namespace sabre::openai
