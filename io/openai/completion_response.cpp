#include "io/openai/completion_response.hpp"

#include <fmt/format.h>

#include "config/text/json_writer.hpp"
#include "io/openai/prompt_logprobs.hpp"

namespace sabre::openai {

namespace {

int64_t total_prompt_tokens(const CompletionPlan& plan) {
  int64_t total = 0;
  for (const CompletionPrompt& p : plan.prompts) total += static_cast<int64_t>(p.token_ids.size());
  return total;
}

std::vector<std::string> echo_texts(const CompletionPlan& plan) {
  std::vector<std::string> out;
  if (plan.echo) {
    for (const CompletionPrompt& p : plan.prompts) out.push_back(p.text);
  }
  return out;
}

// The prompts' ids, kept only where a response writes the prompts' scores (echo with logprobs, vLLM's
// prompt_logprobs): the plan's requests then ask the engine to score them.
std::vector<std::vector<int32_t>> scored_prompt_ids(const CompletionPlan& plan) {
  std::vector<std::vector<int32_t>> out;
  if (plan.requests.empty() || plan.requests.front().prompt_logprobs < 0) return out;
  for (const CompletionPrompt& p : plan.prompts) out.push_back(p.token_ids);
  return out;
}

// With CompletionPlan::echo_only the token the engine generated is left out: a delta keeps only the
// prompt's scores, and a choice ends with finish_reason length and no completion tokens.
TokenDelta prompt_part(const TokenDelta& delta) {
  TokenDelta prompt;
  prompt.request_id = delta.request_id;
  prompt.index = delta.index;
  prompt.prompt_logprobs = delta.prompt_logprobs;
  return prompt;
}

GenerationFinished prompt_part(const GenerationFinished& finished) {
  GenerationFinished prompt = finished;
  if (prompt.finish_reason == FinishReason::error) return prompt;
  prompt.finish_reason = FinishReason::length;
  prompt.usage.completion_tokens = 0;
  return prompt;
}

}  // namespace

// ---- non-streamed ----

CompletionResponseBuilder::CompletionResponseBuilder(const CompletionPlan& plan,
                                                     std::shared_ptr<const Tokenizer> tokenizer)
    : id_(plan.id),
      model_(plan.model),
      created_(plan.created),
      n_(plan.n),
      echo_(echo_texts(plan)),
      echo_only_(plan.echo_only),
      logprobs_(plan.logprobs),
      prompt_logprobs_(plan.prompt_logprobs),
      prompt_ids_(scored_prompt_ids(plan)),
      speller_(std::move(tokenizer), plan.return_tokens_as_token_ids),
      choices_(plan.num_choices(), total_prompt_tokens(plan)) {}

void CompletionResponseBuilder::add(size_t prompt_index, const TokenDelta& delta) {
  const size_t choice = prompt_index * static_cast<size_t>(n_) + static_cast<size_t>(delta.index);
  choices_.add(choice, echo_only_ ? prompt_part(delta) : delta, true);
}

void CompletionResponseBuilder::finish(size_t prompt_index, const GenerationFinished& finished) {
  const size_t choice = prompt_index * static_cast<size_t>(n_) + static_cast<size_t>(finished.index);
  choices_.finish(choice, echo_only_ ? prompt_part(finished) : finished);
}

std::string CompletionResponseBuilder::body() const {
  std::string out = "{\"id\":";
  append_json_string(out, id_);
  fmt::format_to(std::back_inserter(out), ",\"object\":\"text_completion\",\"created\":{},\"model\":", created_);
  append_json_string(out, model_);
  out += ",\"choices\":[";
  for (size_t i = 0; i < choices_.size(); ++i) {
    const ChoiceProgress& c = choices_.at(i);
    if (i) out += ',';
    fmt::format_to(std::back_inserter(out), "{{\"index\":{},\"text\":", i);
    const size_t prompt = i / static_cast<size_t>(n_);
    append_json_string(out, prompt < echo_.size() ? echo_[prompt] + c.text : c.text);
    out += ",\"logprobs\":";
    if (logprobs_) {
      // With echo the prompt's tokens come first (the engine scored them: echo_logprobs).
      std::vector<LegacyToken> tokens;
      if (!echo_.empty()) tokens = echoed_prompt_tokens(prompt_ids_[prompt], c.prompt_logprobs);
      const std::vector<LegacyToken> generated = generated_tokens(c.logprobs);
      tokens.insert(tokens.end(), generated.begin(), generated.end());
      int64_t offset = 0;
      out += legacy_logprobs(tokens, static_cast<size_t>(*logprobs_), speller_, offset);
    } else {
      out += "null";
    }
    if (prompt_logprobs_ >= 0) {
      out += ",\"prompt_logprobs\":";
      append_prompt_logprobs(out, prompt_ids_[prompt], c.prompt_logprobs, static_cast<size_t>(prompt_logprobs_),
                             speller_);
    }
    out += ",\"finish_reason\":";
    if (c.finished) {
      append_json_string(out, finish_reason_name(c.finish_reason));
    } else {
      out += "null";
    }
    out += '}';
  }
  out += "],\"usage\":";
  append_usage(out, choices_.prompt_tokens(), choices_.completion_tokens());
  out += '}';
  return out;
}

// ---- streamed ----

CompletionStreamEncoder::CompletionStreamEncoder(const CompletionPlan& plan, std::shared_ptr<const Tokenizer> tokenizer)
    : id_(plan.id),
      model_(plan.model),
      created_(plan.created),
      n_(plan.n),
      style_{plan.stream_format, plan.include_usage},
      echo_(echo_texts(plan)),
      echo_only_(plan.echo_only),
      logprobs_(plan.logprobs),
      prompt_ids_(scored_prompt_ids(plan)),
      speller_(std::move(tokenizer), plan.return_tokens_as_token_ids),
      choices_(plan.num_choices(), total_prompt_tokens(plan)),
      text_offsets_(plan.num_choices(), 0),
      echo_pending_(plan.num_choices(), !echo_.empty()) {}

std::string CompletionStreamEncoder::envelope_tail() const {
  std::string out = ",\"object\":\"text_completion\"";
  fmt::format_to(std::back_inserter(out), ",\"created\":{},\"model\":", created_);
  append_json_string(out, model_);
  return out;
}

std::string CompletionStreamEncoder::chunk(size_t choice, std::string_view text, std::string_view finish_reason,
                                           const std::string& logprobs_json) const {
  std::string out = "{\"id\":";
  append_json_string(out, id_);
  out += ",\"choices\":[{\"finish_reason\":";
  style_.append_finish_reason(out, finish_reason);
  fmt::format_to(std::back_inserter(out), ",\"index\":{},\"logprobs\":", choice);
  out += logprobs_json.empty() ? std::string("null") : logprobs_json;
  out += ",\"text\":";
  append_json_string(out, text);
  out += "}]";
  out += envelope_tail();
  style_.append_chunk_tail(out, choices_.prompt_tokens(), choices_.completion_tokens());
  out += '}';
  return sse_event(out);
}

std::string CompletionStreamEncoder::begin() {
  // With logprobs the echo waits for the prompt's scores, which come with each choice's first delta.
  if (logprobs_) return "";
  std::string out;
  for (size_t choice = 0; choice < choices_.size(); ++choice) out += echo_chunk(choice, nullptr);
  return out;
}

std::string CompletionStreamEncoder::echo_chunk(size_t choice, const TokenDelta* first_delta) {
  if (!echo_pending_[choice]) return "";
  echo_pending_[choice] = false;
  const size_t prompt = choice / static_cast<size_t>(n_);
  std::string logprobs_json;
  if (logprobs_ && first_delta) {
    const std::vector<LegacyToken> tokens = echoed_prompt_tokens(prompt_ids_[prompt], first_delta->prompt_logprobs);
    logprobs_json = legacy_logprobs(tokens, static_cast<size_t>(*logprobs_), speller_, text_offsets_[choice]);
  }
  return chunk(choice, echo_[prompt], "", logprobs_json);
}

std::string CompletionStreamEncoder::on_delta(size_t prompt_index, const TokenDelta& engine_delta) {
  const size_t choice = prompt_index * static_cast<size_t>(n_) + static_cast<size_t>(engine_delta.index);
  const TokenDelta prompt_only = echo_only_ ? prompt_part(engine_delta) : TokenDelta{};
  const TokenDelta& delta = echo_only_ ? prompt_only : engine_delta;
  if (failed_ || !choices_.add(choice, delta, false)) return "";
  std::string out = echo_chunk(choice, &delta);
  const bool with_logprobs = logprobs_ && !delta.logprobs.empty();
  if (delta.text.empty() && !with_logprobs) return out;
  std::string logprobs_json;
  if (with_logprobs) {
    const std::vector<LegacyToken> tokens = generated_tokens(delta.logprobs);
    logprobs_json = legacy_logprobs(tokens, static_cast<size_t>(*logprobs_), speller_, text_offsets_[choice]);
  }
  return out + chunk(choice, delta.text, "", logprobs_json);
}

std::string CompletionStreamEncoder::on_finished(size_t prompt_index, const GenerationFinished& engine_finished) {
  const GenerationFinished finished = echo_only_ ? prompt_part(engine_finished) : engine_finished;
  const size_t choice = prompt_index * static_cast<size_t>(n_) + static_cast<size_t>(finished.index);
  if (failed_ || !choices_.finish(choice, finished)) return "";
  if (finished.finish_reason != FinishReason::error) return chunk(choice, "", finish_reason_name(finished.finish_reason), "");
  failed_ = true;
  const std::string error = error_object(*choices_.error());
  std::string out = "{\"id\":";
  append_json_string(out, id_);
  out += ",\"choices\":[]";
  out += envelope_tail();
  style_.append_error_tail(out, error, choices_.prompt_tokens(), choices_.completion_tokens());
  out += '}';
  return sse_event(out);
}

std::string CompletionStreamEncoder::end() {
  std::string out;
  if (style_.sends_usage_chunk() && !failed_) {
    std::string json = "{\"id\":";
    append_json_string(json, id_);
    json += ",\"choices\":[]";
    json += envelope_tail();
    style_.append_usage_chunk_tail(json, choices_.prompt_tokens(), choices_.completion_tokens());
    json += '}';
    out += sse_event(json);
  }
  out += kSseDone;
  return out;
}

}  // namespace sabre::openai
