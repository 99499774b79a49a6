#include "model/sampler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace sabre {

void SamplingParams::validate() const {
  if (!(temperature >= 0) || !std::isfinite(temperature)) {
    throw std::invalid_argument(fmt::format("temperature must be a finite number >= 0, got {}", temperature));
  }
  if (!(top_p > 0 && top_p <= 1)) throw std::invalid_argument(fmt::format("top_p must be in (0, 1], got {}", top_p));
  if (top_k < 0) throw std::invalid_argument(fmt::format("top_k must be >= 0, got {}", top_k));
}

float token_logprob(std::span<const float> logits, int32_t token) {
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  double total = 0;
  for (float l : logits) total += std::exp(static_cast<double>(l - max_logit));
  return static_cast<float>(static_cast<double>(logits[static_cast<size_t>(token)] - max_logit) - std::log(total));
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) { params_.validate(); }

SampledToken Sampler::sample(std::span<const float> logits) {
  if (logits.empty()) throw std::invalid_argument("Sampler::sample: empty logits");
  const auto vocab = static_cast<int64_t>(logits.size());
  const bool greedy = params_.temperature == 0 || params_.top_k == 1;
  if (greedy) {
    // Ties go to the lowest id, as torch.argmax does.
    const auto token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    return {token, token_logprob(logits, token)};
  }

  // Candidates in descending logit order; with top-k only the k best need ordering.
  const int64_t k = (params_.top_k > 0 && params_.top_k < vocab) ? params_.top_k : vocab;
  order_.resize(static_cast<size_t>(vocab));
  std::iota(order_.begin(), order_.end(), 0);
  const auto by_logit = [&](int32_t a, int32_t b) {
    const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  };
  const bool need_full_order = params_.top_p < 1.0;
  if (need_full_order || k < vocab) {
    std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), by_logit);
  }

  // Softmax over the k candidates at the given temperature.
  probabilities_.resize(static_cast<size_t>(k));
  const float max_logit = logits[static_cast<size_t>(*std::max_element(
      order_.begin(), order_.begin() + k, [&](int32_t a, int32_t b) { return by_logit(b, a); }))];
  const double inv_temperature = 1.0 / params_.temperature;
  double total = 0;
  for (int64_t i = 0; i < k; ++i) {
    const double scaled = (logits[static_cast<size_t>(order_[static_cast<size_t>(i)])] - max_logit) * inv_temperature;
    probabilities_[static_cast<size_t>(i)] = static_cast<float>(std::exp(scaled));
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

  const double draw = std::uniform_real_distribution<double>(0.0, total)(rng_);
  double running = 0;
  int64_t chosen = kept - 1;  // rounding at the very end of the range falls on the last candidate
  for (int64_t i = 0; i < kept; ++i) {
    running += probabilities_[static_cast<size_t>(i)];
    if (draw < running) {
      chosen = i;
      break;
    }
  }
  const int32_t token = order_[static_cast<size_t>(chosen)];
  return {token, token_logprob(logits, token)};
}

}  // namespace sabre
