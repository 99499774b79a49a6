#include "model/sampler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace sabre {

namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();

void check_token_in_vocab(int32_t token, size_t vocab, const char* field) {
  if (token < 0 || static_cast<size_t>(token) >= vocab) {
    throw std::invalid_argument(
        fmt::format("Sampler: {} names token {}, outside the vocabulary of {} tokens", field, token, vocab));
  }
}

}  // namespace

void SamplingParams::validate() const {
  if (!(temperature >= 0) || !std::isfinite(temperature)) {
    throw std::invalid_argument(fmt::format("temperature must be a finite number >= 0, got {}", temperature));
  }
  if (!(top_p > 0 && top_p <= 1)) throw std::invalid_argument(fmt::format("top_p must be in (0, 1], got {}", top_p));
  if (top_k < 0) throw std::invalid_argument(fmt::format("top_k must be >= 0, got {}", top_k));
  if (!(min_p >= 0 && min_p <= 1)) throw std::invalid_argument(fmt::format("min_p must be in [0, 1], got {}", min_p));
  if (!(repetition_penalty > 0) || !std::isfinite(repetition_penalty)) {
    throw std::invalid_argument(fmt::format("repetition_penalty must be a finite number > 0, got {}", repetition_penalty));
  }
  if (!(presence_penalty >= -2 && presence_penalty <= 2)) {
    throw std::invalid_argument(fmt::format("presence_penalty must be in [-2, 2], got {}", presence_penalty));
  }
  if (!(frequency_penalty >= -2 && frequency_penalty <= 2)) {
    throw std::invalid_argument(fmt::format("frequency_penalty must be in [-2, 2], got {}", frequency_penalty));
  }
  for (const auto& [token, bias] : logit_bias) {
    if (token < 0) throw std::invalid_argument(fmt::format("logit_bias: token id must be >= 0, got {}", token));
    if (!std::isfinite(bias)) {
      throw std::invalid_argument(fmt::format("logit_bias: bias of token {} must be finite, got {}", token, bias));
    }
  }
  if (top_logprobs < 0) throw std::invalid_argument(fmt::format("top_logprobs must be >= 0, got {}", top_logprobs));
  if (min_tokens < 0) throw std::invalid_argument(fmt::format("min_tokens must be >= 0, got {}", min_tokens));
  for (int32_t token : stop_token_ids) {
    if (token < 0) throw std::invalid_argument(fmt::format("stop_token_ids: token id must be >= 0, got {}", token));
  }
}

float token_logprob(std::span<const float> logits, int32_t token) {
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double total = 0;
  for (float l : logits) total += std::exp(static_cast<double>(l - max_logit));
  return static_cast<float>(static_cast<double>(logits[static_cast<size_t>(token)] - max_logit) - std::log(total));
}

std::vector<TokenLogprob> top_token_logprobs(std::span<const float> logits, int64_t k) {
  if (logits.empty() || k <= 0) return {};
  const auto count = static_cast<size_t>(std::min<int64_t>(k, static_cast<int64_t>(logits.size())));
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(count), ids.end(), [&](int32_t a, int32_t b) {
    const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  });
  // One log-sum-exp for all k instead of token_logprob's per token.
  const float max_logit = logits[static_cast<size_t>(ids[0])];
  double total = 0;
  for (float l : logits) total += std::exp(static_cast<double>(l - max_logit));
  const double log_total = std::log(total);
  std::vector<TokenLogprob> best(count);
  for (size_t i = 0; i < count; ++i) {
    const float l = logits[static_cast<size_t>(ids[i])];
    best[i] = {ids[i], static_cast<float>(static_cast<double>(l - max_logit) - log_total)};
  }
  return best;
}

Sampler::Sampler(const SamplingParams& params, std::span<const int32_t> prompt, std::span<const int32_t> eos_token_ids)
    : params_(params), rng_(params.seed) {
  params_.validate();
  ends_generation_ = params_.stop_token_ids;
  ends_generation_.insert(ends_generation_.end(), eos_token_ids.begin(), eos_token_ids.end());
  // Only the repetition penalty looks at the prompt; skip building the set when it is off.
  if (params_.repetition_penalty != 1.0) seen_.insert(prompt.begin(), prompt.end());
}

bool Sampler::is_stop_token(int32_t token) const {
  return std::find(ends_generation_.begin(), ends_generation_.end(), token) != ends_generation_.end();
}

void Sampler::record(int32_t token) {
  ++generated_count_;
  if (params_.repetition_penalty != 1.0) seen_.insert(token);
  if (params_.presence_penalty != 0 || params_.frequency_penalty != 0) ++output_counts_[token];
}

void Sampler::apply_bias_mask_and_penalties(std::vector<float>& logits) const {
  const size_t vocab = logits.size();
  for (const auto& [token, bias] : params_.logit_bias) {
    check_token_in_vocab(token, vocab, "logit_bias");
    logits[static_cast<size_t>(token)] += bias;
  }
  if (generated_count_ < params_.min_tokens) {
    for (int32_t token : ends_generation_) {
      check_token_in_vocab(token, vocab, "stop_token_ids/eos");
      logits[static_cast<size_t>(token)] = kMasked;
    }
  }
  const auto penalty = static_cast<float>(params_.repetition_penalty);
  for (int32_t token : seen_) {
    if (token < 0 || static_cast<size_t>(token) >= vocab) continue;  // a prompt id the model never produces
    float& l = logits[static_cast<size_t>(token)];
    l = l > 0 ? l / penalty : l * penalty;
  }
  for (const auto& [token, count] : output_counts_) {
    check_token_in_vocab(token, vocab, "the output history");
    float& l = logits[static_cast<size_t>(token)];
    l -= static_cast<float>(params_.frequency_penalty * static_cast<double>(count) + params_.presence_penalty);
  }
}

std::vector<float> Sampler::adjusted_logits(std::span<const float> logits) const {
  std::vector<float> adjusted(logits.begin(), logits.end());
  apply_bias_mask_and_penalties(adjusted);
  return adjusted;
}

SampledToken Sampler::sample(std::span<const float> logits) {
  if (logits.empty()) throw std::invalid_argument("Sampler::sample: empty logits");
  processed_.assign(logits.begin(), logits.end());
  apply_bias_mask_and_penalties(processed_);
  if (*std::max_element(processed_.begin(), processed_.end()) == kMasked) {
    throw std::invalid_argument(fmt::format("Sampler::sample: every one of the {} tokens is masked (step {})",
                                            logits.size(), generated_count_));
  }
  SampledToken result;
  result.token = draw(processed_);
  result.logprob = token_logprob(logits, result.token);
  result.top_logprobs = top_token_logprobs(logits, params_.top_logprobs);
  record(result.token);
  return result;
}

int32_t Sampler::draw(const std::vector<float>& logits) {
  const auto vocab = static_cast<int64_t>(logits.size());
  if (params_.temperature == 0 || params_.top_k == 1) {
    // Ties go to the lowest id, as torch.argmax does.
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }

  // Candidates in descending logit order; with top-k only the k best need ordering. Temperature and
  // min_p do not change the order, so one ordering serves every step below.
  const int64_t k = (params_.top_k > 0 && params_.top_k < vocab) ? params_.top_k : vocab;
  order_.resize(static_cast<size_t>(vocab));
  std::iota(order_.begin(), order_.end(), 0);
  const auto by_logit = [&](int32_t a, int32_t b) {
    const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  };
  if (params_.top_p < 1.0 || k < vocab) std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), by_logit);
  const float max_logit = *std::max_element(logits.begin(), logits.end());

  // Softmax numerators at the temperature over the k candidates. min_p (applied before top-k, as in
  // vLLM) keeps p >= min_p * p_max over the whole vocabulary, i.e. (l - l_max) / T >= log(min_p);
  // as the best token is always a candidate, masking inside the k candidates is the same thing.
  const double inv_temperature = 1.0 / params_.temperature;
  const double min_p_floor = params_.min_p > 0 ? std::log(params_.min_p) : -std::numeric_limits<double>::infinity();
  probabilities_.resize(static_cast<size_t>(k));
  double total = 0;
  for (int64_t i = 0; i < k; ++i) {
    const double scaled = (logits[static_cast<size_t>(order_[static_cast<size_t>(i)])] - max_logit) * inv_temperature;
    probabilities_[static_cast<size_t>(i)] = scaled >= min_p_floor ? static_cast<float>(std::exp(scaled)) : 0.0f;
    total += probabilities_[static_cast<size_t>(i)];
  }

  // Nucleus: keep the smallest prefix whose mass reaches top_p (at least one token), as HF's TopPLogitsWarper.
  int64_t kept = k;
  if (params_.top_p < 1.0) {
    double cumulative = 0;
    for (int64_t i = 0; i < k; ++i) {
      cumulative += probabilities_[static_cast<size_t>(i)] / total;
      if (cumulative >= params_.top_p) {
        kept = i + 1;
        break;
      }
    }
    total = 0;
    for (int64_t i = 0; i < kept; ++i) total += probabilities_[static_cast<size_t>(i)];
  }

  const double target = std::uniform_real_distribution<double>(0.0, total)(rng_);
  double running = 0;
  int64_t chosen = 0;
  for (int64_t i = 0; i < kept; ++i) {
    if (probabilities_[static_cast<size_t>(i)] == 0.0f) continue;  // masked: never chosen, not even by rounding
    chosen = i;  // rounding at the very end of the range falls on the last possible candidate
    running += probabilities_[static_cast<size_t>(i)];
    if (target < running) break;
  }
  return order_[static_cast<size_t>(chosen)];
}

}  // namespace sabre
