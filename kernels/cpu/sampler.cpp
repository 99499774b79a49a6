#include "kernels/cpu/sampler.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "kernels/philox.hpp"

namespace sabre {

namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();

}  // namespace

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

Sampler::Sampler(const SamplingParams& params, std::span<const int32_t> prompt, std::span<const int32_t> eos_token_ids,
                 uint64_t stream, const TokenConstraintFactory* constraint)
    : history_(params, prompt, eos_token_ids, stream, constraint) {}

void Sampler::commit(int32_t token) { history_.commit(token); }

void Sampler::apply_bias_mask_and_penalties(std::vector<float>& logits, std::span<const int32_t> provisional) const {
  const auto vocab = static_cast<int64_t>(logits.size());
  history_.adjustments(provisional, vocab, adjustments_, /*constraint_masks=*/false);
  SamplerHistory::apply(adjustments_, static_cast<float>(history_.params().repetition_penalty), logits);
  if (history_.constrained()) {
    // Masked last: -inf stays -inf under every adjustment, and the dense mask is cheaper than one
    // adjustment per ruled-out token.
    history_.allowed_tokens(provisional, vocab, allowed_);
    for (int64_t token = 0; token < vocab; ++token) {
      const bool allowed = (allowed_[static_cast<size_t>(token) / 32] >> (token % 32)) & 1;
      if (!allowed) logits[static_cast<size_t>(token)] = kMasked;
    }
  }
}

std::vector<float> Sampler::adjusted_logits(std::span<const float> logits) const {
  std::vector<float> adjusted(logits.begin(), logits.end());
  apply_bias_mask_and_penalties(adjusted, {});
  return adjusted;
}

const Distribution& Sampler::distribution(std::span<const float> raw, std::span<const int32_t> provisional) const {
  if (raw.empty()) throw std::invalid_argument("Sampler: empty logits");
  processed_.assign(raw.begin(), raw.end());
  apply_bias_mask_and_penalties(processed_, provisional);
  const std::vector<float>& logits = processed_;
  const auto best = std::max_element(logits.begin(), logits.end());
  if (*best == kMasked) {
    throw std::invalid_argument(fmt::format("Sampler: every one of the {} tokens is masked (step {})", logits.size(),
                                            history_.generated_count() + static_cast<int64_t>(provisional.size())));
  }
  Distribution& d = distribution_;
  d.tokens.clear();
  d.weights.clear();
  const SamplingParams& settings = history_.params();
  if (history_.greedy()) {
    // Ties go to the lowest id, as torch.argmax does.
    d.tokens.push_back(static_cast<int32_t>(best - logits.begin()));
    d.weights.push_back(1.0f);
    d.total = 1.0;
    return d;
  }

  // Candidates in descending logit order; with top-k only the k best need ordering. Temperature and
  // min_p do not change the order, so one ordering serves every step below.
  const auto vocab = static_cast<int64_t>(logits.size());
  const int64_t k = (settings.top_k > 0 && settings.top_k < vocab) ? settings.top_k : vocab;
  order_.resize(static_cast<size_t>(vocab));
  std::iota(order_.begin(), order_.end(), 0);
  const auto by_logit = [&](int32_t a, int32_t b) {
    const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  };
  if (settings.top_p < 1.0 || k < vocab) std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), by_logit);
  const float max_logit = *best;

  // Softmax numerators at the temperature over the k candidates. min_p (applied before top-k, as in
  // vLLM) keeps p >= min_p * p_max over the whole vocabulary, i.e. (l - l_max) / T >= log(min_p);
  // as the best token is always a candidate, masking inside the k candidates is the same thing.
  const double inv_temperature = 1.0 / settings.temperature;
  const double min_p_floor = settings.min_p > 0 ? std::log(settings.min_p) : -std::numeric_limits<double>::infinity();
  d.tokens.assign(order_.begin(), order_.begin() + k);
  d.weights.resize(static_cast<size_t>(k));
  double total = 0;
  for (int64_t i = 0; i < k; ++i) {
    const double scaled = (logits[static_cast<size_t>(order_[static_cast<size_t>(i)])] - max_logit) * inv_temperature;
    d.weights[static_cast<size_t>(i)] = scaled >= min_p_floor ? static_cast<float>(std::exp(scaled)) : 0.0f;
    total += d.weights[static_cast<size_t>(i)];
  }

  // Nucleus: keep the smallest prefix whose mass reaches top_p (at least one token), as HF's TopPLogitsWarper.
  if (settings.top_p < 1.0) {
    double cumulative = 0;
    int64_t kept = k;
    for (int64_t i = 0; i < k; ++i) {
      cumulative += d.weights[static_cast<size_t>(i)] / total;
      if (cumulative >= settings.top_p) {
        kept = i + 1;
        break;
      }
    }
    d.tokens.resize(static_cast<size_t>(kept));
    d.weights.resize(static_cast<size_t>(kept));
    total = 0;
    for (float w : d.weights) total += w;
  }
  d.total = total;
  return d;
}

int32_t Sampler::draw(const Distribution& d, double u) {
  const double target = u * d.total;
  double running = 0;
  size_t chosen = 0;
  for (size_t i = 0; i < d.tokens.size(); ++i) {
    if (d.weights[i] == 0.0f) continue;  // removed by min_p: never chosen, not even by rounding
    chosen = i;  // rounding at the very end of the range falls on the last possible candidate
    running += d.weights[i];
    if (target < running) break;
  }
  return d.tokens[chosen];
}

SampledToken Sampler::sample(std::span<const float> logits, bool commit_token, std::span<const int32_t> provisional) {
  const Distribution& d = distribution(logits, provisional);
  const auto index = static_cast<uint64_t>(history_.generated_count()) + provisional.size();
  SampledToken result;
  result.token = draw(d, sampling_uniform(params().seed, stream(), index));
  result.logprob = token_logprob(logits, result.token);
  result.top_logprobs = top_token_logprobs(logits, params().top_logprobs);
  if (commit_token) commit(result.token);
  return result;
}

}  // namespace sabre
