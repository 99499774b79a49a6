#include "io/openai/completion_response.hpp"

#include <fmt/format.h>

#include <set>

#include "config/text/json_writer.hpp"

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

// OpenAI's legacy logprobs object for `tokens`:
//   {"text_offset":[..],"token_logprobs":[..],"tokens":[..],"top_logprobs":[{"tok":lp,..},..]}
// Each top_logprobs map holds the N best tokens plus the sampled one (as vLLM does); a spelling shared by
// two ids keeps the likelier. `offset` advances by each token's characters.
std::string completion_logprobs(const std::vector<SampledToken>& tokens, const TokenSpeller& speller,
                                int64_t& offset) {
  std::vector<std::string> spellings;
  spellings.reserve(tokens.size());
  for (const SampledToken& t : tokens) spellings.push_back(speller.spell(t.token));
  std::string out = "{\"text_offset\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    fmt::format_to(std::back_inserter(out), "{}", offset);
    offset += count_characters(spellings[i]);
  }
  out += "],\"token_logprobs\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    append_logprob(out, tokens[i].logprob);
  }
  out += "],\"tokens\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, spellings[i]);
  }
  out += "],\"top_logprobs\":[";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i) out += ',';
    out += '{';
    std::set<std::string> written;
    auto entry = [&](const std::string& spelling, float logprob) {
      if (!written.insert(spelling).second) return;
      if (written.size() > 1) out += ',';
      append_json_string(out, spelling);
      out += ':';
      append_logprob(out, logprob);
    };
    for (const TokenLogprob& top : tokens[i].top_logprobs) entry(speller.spell(top.token), top.logprob);
    entry(spellings[i], tokens[i].logprob);
    out += '}';
  }
  out += "]}";
  return out;
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
      logprobs_(plan.logprobs),
      speller_(std::move(tokenizer), plan.return_tokens_as_token_ids),
      choices_(plan.num_choices(), total_prompt_tokens(plan)) {}

void CompletionResponseBuilder::add(size_t prompt_index, const TokenDelta& delta) {
  choices_.add(prompt_index * static_cast<size_t>(n_) + static_cast<size_t>(delta.index), delta, true);
}

void CompletionResponseBuilder::finish(size_t prompt_index, const GenerationFinished& finished) {
  choices_.finish(prompt_index * static_cast<size_t>(n_) + static_cast<size_t>(finished.index), finished);
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
      int64_t offset = 0;
      out += completion_logprobs(c.logprobs, speller_, offset);
    } else {
      out += "null";
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
      logprobs_(plan.logprobs),
      speller_(std::move(tokenizer), plan.return_tokens_as_token_ids),
      choices_(plan.num_choices(), total_prompt_tokens(plan)),
      text_offsets_(plan.num_choices(), 0) {}

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
  std::string out;
  for (size_t choice = 0; choice < choices_.size() && !echo_.empty(); ++choice) {
    out += chunk(choice, echo_[choice / static_cast<size_t>(n_)], "", "");
  }
  return out;
}

std::string CompletionStreamEncoder::on_delta(size_t prompt_index, const TokenDelta& delta) {
  const size_t choice = prompt_index * static_cast<size_t>(n_) + static_cast<size_t>(delta.index);
  if (failed_ || !choices_.add(choice, delta, false)) return "";
  const bool with_logprobs = logprobs_ && !delta.logprobs.empty();
  if (delta.text.empty() && !with_logprobs) return "";
  std::string logprobs_json;
  if (with_logprobs) logprobs_json = completion_logprobs(delta.logprobs, speller_, text_offsets_[choice]);
  return chunk(choice, delta.text, "", logprobs_json);
}

std::string CompletionStreamEncoder::on_finished(size_t prompt_index, const GenerationFinished& finished) {
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
