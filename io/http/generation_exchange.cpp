#include "io/http/generation_exchange.hpp"

#include <fmt/format.h>

namespace sabre::http {

GenerationExchange::GenerationExchange(openai::CompletionPlan plan, std::shared_ptr<const Tokenizer> tokenizer,
                                       std::shared_ptr<GenerationOutput> output)
    : output_(std::move(output)), stream_(plan.stream) {
  for (size_t i = 0; i < plan.requests.size(); ++i) {
    plan.requests[i].request_id = fmt::format("{}-{}", plan.id, i);
    prompt_of_id_[plan.requests[i].request_id] = i;
  }
  requests_ = plan.requests;
  samples_left_.assign(requests_.size(), plan.n);
  prompt_tokens_.assign(requests_.size(), 0);
  Completion completion{std::move(plan), std::nullopt, std::nullopt};
  if (stream_) completion.stream.emplace(completion.plan, tokenizer);
  else completion.builder.emplace(completion.plan, tokenizer);
  protocol_ = std::move(completion);
}

GenerationExchange::GenerationExchange(openai::ChatPlan plan, std::shared_ptr<const Tokenizer> tokenizer,
                                       std::shared_ptr<GenerationOutput> output)
    : output_(std::move(output)), stream_(plan.stream) {
  plan.request.request_id = plan.id + "-0";
  prompt_of_id_[plan.request.request_id] = 0;
  requests_ = {plan.request};
  samples_left_.assign(1, plan.n);
  prompt_tokens_.assign(1, 0);
  Chat chat{std::move(plan), std::nullopt, std::nullopt};
  if (stream_) chat.stream.emplace(chat.plan, tokenizer);
  else chat.builder.emplace(chat.plan, tokenizer);
  protocol_ = std::move(chat);
}

void GenerationExchange::rename(size_t prompt_index, const std::string& engine_id) {
  if (prompt_index < requests_.size()) prompt_of_id_[engine_id] = prompt_index;
}

std::optional<size_t> GenerationExchange::prompt_index(const std::string& request_id) const {
  const auto it = prompt_of_id_.find(request_id);
  if (it == prompt_of_id_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> GenerationExchange::unfinished_request_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, index] : prompt_of_id_) {
    if (samples_left_[index] > 0) ids.push_back(id);
  }
  return ids;
}

void GenerationExchange::emit(std::string events) {
  if (!started_) {
    started_ = true;
    std::string head = std::visit([](auto& p) { return p.stream->begin(); }, protocol_);
    output_->stream_begin(head + events);
  } else if (!events.empty()) {
    output_->stream_write(std::move(events));
  }
}

void GenerationExchange::count(size_t index, const GenerationFinished& finished) {
  prompt_tokens_[index] = std::max(prompt_tokens_[index], finished.usage.prompt_tokens);
  summary_.prompt_tokens = 0;
  for (int64_t tokens : prompt_tokens_) summary_.prompt_tokens += tokens;
  summary_.completion_tokens += finished.usage.completion_tokens;
  summary_.speculative_proposed += finished.usage.speculative_proposed;
  summary_.speculative_accepted += finished.usage.speculative_accepted;
  const double ttft = finished.timings.time_to_first_token;
  if (ttft > 0 && (summary_.time_to_first_token < 0 || ttft < summary_.time_to_first_token)) {
    summary_.time_to_first_token = ttft;
  }
}

GenerationExchange::Step GenerationExchange::on_delta(const TokenDelta& delta) {
  const auto index = prompt_index(delta.request_id);
  if (!index || done_) return done_ ? Step::finished : Step::running;
  if (stream_) {
    std::string events = std::visit(
        [&](auto& p) {
          if constexpr (std::is_same_v<std::decay_t<decltype(p)>, Completion>) return p.stream->on_delta(*index, delta);
          else return p.stream->on_delta(delta);
        },
        protocol_);
    emit(std::move(events));
  } else {
    std::visit(
        [&](auto& p) {
          if constexpr (std::is_same_v<std::decay_t<decltype(p)>, Completion>) p.builder->add(*index, delta);
          else p.builder->add(delta);
        },
        protocol_);
  }
  return Step::running;
}

GenerationExchange::Step GenerationExchange::on_finished(const GenerationFinished& finished) {
  const auto index = prompt_index(finished.request_id);
  if (!index || done_) return done_ ? Step::finished : Step::running;
  count(*index, finished);
  if (samples_left_[*index] > 0) --samples_left_[*index];

  if (stream_) {
    if (!started_ && finished.finish_reason == FinishReason::error) {
      // Nothing was sent yet: answer with the HTTP status the error stands for (400, 503, 500).
      done_ = true;
      output_->respond(error_response(openai::error_from_finished(finished)), summary_);
      return Step::failed;
    }
    bool failed = false, complete = false;
    std::string events = std::visit(
        [&](auto& p) {
          std::string out;
          if constexpr (std::is_same_v<std::decay_t<decltype(p)>, Completion>) out = p.stream->on_finished(*index, finished);
          else out = p.stream->on_finished(finished);
          failed = p.stream->failed();
          complete = p.stream->complete();
          return out;
        },
        protocol_);
    emit(std::move(events));
    if (!failed && !complete) return Step::running;
    done_ = true;
    output_->stream_end(std::visit([](auto& p) { return p.stream->end(); }, protocol_), summary_);
    return failed ? Step::failed : Step::finished;
  }

  std::optional<HttpResponse> response;
  bool failed = false;
  std::visit(
      [&](auto& p) {
        if constexpr (std::is_same_v<std::decay_t<decltype(p)>, Completion>) p.builder->finish(*index, finished);
        else p.builder->finish(finished);
        if (p.builder->error()) {
          failed = true;
          response = error_response(*p.builder->error());
        } else if (p.builder->complete()) {
          response = json_response(p.builder->body());
        }
      },
      protocol_);
  if (!response) return Step::running;
  done_ = true;
  output_->respond(std::move(*response), summary_);
  return failed ? Step::failed : Step::finished;
}

}  // namespace sabre::http
