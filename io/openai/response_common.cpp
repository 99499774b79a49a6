#include "io/openai/response_common.hpp"

#include <fmt/format.h>

#include <cmath>

#include "config/text/json_writer.hpp"

namespace sabre::openai {

ChoiceTracker::ChoiceTracker(size_t num_choices, int64_t prompt_tokens)
    : choices_(num_choices), prompt_tokens_(prompt_tokens), unfinished_(num_choices) {}

bool ChoiceTracker::add(size_t choice, const TokenDelta& delta, bool keep_text) {
  if (choice >= choices_.size() || choices_[choice].finished) return false;
  ChoiceProgress& c = choices_[choice];
  c.tokens += static_cast<int64_t>(delta.token_ids.size());
  if (keep_text) {
    c.text += delta.text;
    c.logprobs.insert(c.logprobs.end(), delta.logprobs.begin(), delta.logprobs.end());
    if (!delta.prompt_logprobs.empty()) c.prompt_logprobs = delta.prompt_logprobs;
  }
  return true;
}

bool ChoiceTracker::finish(size_t choice, const GenerationFinished& finished) {
  if (choice >= choices_.size() || choices_[choice].finished) return false;
  ChoiceProgress& c = choices_[choice];
  c.finished = true;
  c.finish_reason = finished.finish_reason;
  // An error reply carries no usage; keep what was counted then.
  if (finished.finish_reason != FinishReason::error) c.final_tokens = finished.usage.completion_tokens;
  if (finished.finish_reason == FinishReason::error && !error_) error_ = error_from_finished(finished);
  --unfinished_;
  return true;
}

int64_t ChoiceTracker::completion_tokens() const {
  int64_t total = 0;
  for (const ChoiceProgress& c : choices_) total += c.completion_tokens();
  return total;
}

void append_usage(std::string& out, int64_t prompt_tokens, int64_t completion_tokens) {
  fmt::format_to(std::back_inserter(out), "{{\"prompt_tokens\":{},\"completion_tokens\":{},\"total_tokens\":{}}}",
                 prompt_tokens, completion_tokens, prompt_tokens + completion_tokens);
}

void append_logprob(std::string& out, float logprob) {
  if (!std::isfinite(logprob)) {
    out += "-9999.0";
    return;
  }
  fmt::format_to(std::back_inserter(out), "{}", logprob);
}

TokenSpeller::TokenSpeller(std::shared_ptr<const Tokenizer> tokenizer, bool as_token_ids)
    : tokenizer_(std::move(tokenizer)), as_token_ids_(as_token_ids) {}

std::string TokenSpeller::spell(int32_t token) const {
  if (as_token_ids_ || !tokenizer_) return fmt::format("token_id:{}", token);
  const int32_t ids[1] = {token};
  return tokenizer_->decode(ids, /*skip_special_tokens=*/false);
}

int64_t count_characters(std::string_view text) {
  int64_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

void StreamStyle::append_finish_reason(std::string& out, std::string_view reason) const {
  if (reason.empty() && format == StreamFormat::openai) {
    out += "null";
  } else {
    append_json_string(out, reason);
  }
}

void StreamStyle::append_chunk_tail(std::string& out, int64_t prompt_tokens, int64_t completion_tokens) const {
  if (format == StreamFormat::bladellm) {
    out += ",\"usage\":";
    append_usage(out, prompt_tokens, completion_tokens);
    out += ",\"error_info\":null";
  } else if (include_usage) {
    out += ",\"usage\":null";
  }
}

void StreamStyle::append_usage_chunk_tail(std::string& out, int64_t prompt_tokens, int64_t completion_tokens) const {
  out += ",\"usage\":";
  append_usage(out, prompt_tokens, completion_tokens);
  if (format == StreamFormat::bladellm) out += ",\"error_info\":null";
}

void StreamStyle::append_error_tail(std::string& out, const std::string& error_json, int64_t prompt_tokens,
                                   int64_t completion_tokens) const {
  if (format == StreamFormat::bladellm) {
    out += ",\"usage\":";
    append_usage(out, prompt_tokens, completion_tokens);
    out += ",\"error_info\":" + error_json;
  }
  out += ",\"error\":" + error_json;
}

std::string sse_event(std::string_view json) {
  std::string out;
  out.reserve(json.size() + 8);
  out += "data: ";
  out += json;
  out += "\n\n";
  return out;
}

}  // namespace sabre::openai
