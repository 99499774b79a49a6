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

void check_token_in_vocab(int32_t token, size_t vocab, const char* field) {
  if (token < 0 || static_cast<size_t>(token) >= vocab) {
    throw std::invalid_argument(
        fmt::format("Sampler: {} names token {}, outside the vocabulary of {} tokens", field, token, vocab));
  }
}

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
                 uint64_t stream)
    : params_(params), stream_(stream) {
  params_.validate();
  ends_generation_ = params_.stop_token_ids;
  ends_generation_.insert(ends_generation_.end(), eos_token_ids.begin(), eos_token_ids.end());
  // Only the repetition penalty looks at the prompt; skip building the set when it is off.
  if (params_.repetition_penalty != 1.0) seen_.insert(prompt.begin(), prompt.end());
}

bool Sampler::is_stop_token(int32_t token) const {
  return std::find(ends_generation_.begin(), ends_generation_.end(), token) != ends_generation_.end();
}

void Sampler::commit(int32_t token) {
  ++generated_count_;
  if (params_.repetition_penalty != 1.0) seen_.insert(token);
  if (params_.presence_penalty != 0 || params_.frequency_penalty != 0) ++output_counts_[token];
}

void Sampler::apply_bias_mask_and_penalties(std::vector<float>& logits, std::span<const int32_t> provisional) const {
  const size_t vocab = logits.size();
  for (const auto& [token, bias] : params_.logit_bias) {
    check_token_in_vocab(token, vocab, "logit_bias");
    logits[static_cast<size_t>(token)] += bias;
  }
  const auto generated = generated_count_ + static_cast<int64_t>(provisional.size());
  if (generated < params_.min_tokens) {
    for (int32_t token : ends_generation_) {
      check_token_in_vocab(token, vocab, "stop_token_ids/eos");
      logits[static_cast<size_t>(token)] = kMasked;
    }
  }
  for (int32_t token : provisional) check_token_in_vocab(token, vocab, "a provisional token");
  if (params_.repetition_penalty != 1.0) {
    const auto penalty = static_cast<float>(params_.repetition_penalty);
    const auto penalise = [&](int32_t token) {
      float& l = logits[static_cast<size_t>(token)];
      l = l > 0 ? l / penalty : l * penalty;
    };
    for (int32_t token : seen_) {
      if (token >= 0 && static_cast<size_t>(token) < vocab) penalise(token);  // a prompt id the model never produces
    }
    // Provisional tokens not seen yet count once, like the rest.
    for (size_t i = 0; i < provisional.size(); ++i) {
      const int32_t token = provisional[i];
      if (seen_.count(token) == 0 && std::find(provisional.begin(), provisional.begin() + static_cast<std::ptrdiff_t>(i),
                                               token) == provisional.begin() + static_cast<std::ptrdiff_t>(i)) {
        penalise(token);
      }
    }
  }
  if (params_.presence_penalty != 0 || params_.frequency_penalty != 0) {
    std::unordered_map<int32_t, int64_t> counts = output_counts_;
    for (int32_t token : provisional) ++counts[token];
    for (const auto& [token, count] : counts) {
      check_token_in_vocab(token, vocab, "the output history");
      float& l = logits[static_cast<size_t>(token)];
      l -= static_cast<float>(params_.frequency_penalty * static_cast<double>(count) + params_.presence_penalty);
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
                                            generated_count_ + static_cast<int64_t>(provisional.size())));
  }
  Distribution& d = distribution_;
  d.tokens.clear();
  d.weights.clear();
  if (params_.temperature == 0 || params_.top_k == 1) {
    // Ties go to the lowest id, as torch.argmax does.
    d.tokens.push_back(static_cast<int32_t>(best - logits.begin()));
    d.weights.push_back(1.0f);
    d.total = 1.0;
    return d;
  }

  // Candidates in descending logit order; with top-k only the k best need ordering. Temperature and
  // min_p do not change the order, so one ordering serves every step below.
  const auto vocab = static_cast<int64_t>(logits.size());
  const int64_t k = (params_.top_k > 0 && params_.top_k < vocab) ? params_.top_k : vocab;
  order_.resize(static_cast<size_t>(vocab));
  std::iota(order_.begin(), order_.end(), 0);
  const auto by_logit = [&](int32_t a, int32_t b) {
    const float la = logits[static_cast<size_t>(a)], lb = logits[static_cast<size_t>(b)];
    return la > lb || (la == lb && a < b);
  };
  if (params_.top_p < 1.0 || k < vocab) std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), by_logit);
  const float max_logit = *best;

  // Softmax numerators at the temperature over the k candidates. min_p (applied before top-k, as in
  // vLLM) keeps p >= min_p * p_max over the whole vocabulary, i.e. (l - l_max) / T >= log(min_p);
  // as the best token is always a candidate, masking inside the k candidates is the same thing.
  const double inv_temperature = 1.0 / params_.temperature;
  const double min_p_floor = params_.min_p > 0 ? std::log(params_.min_p) : -std::numeric_limits<double>::infinity();
  d.tokens.assign(order_.begin(), order_.begin() + k);
  d.weights.resize(static_cast<size_t>(k));
  double total = 0;
  for (int64_t i = 0; i < k; ++i) {
    const double scaled = (logits[static_cast<size_t>(order_[static_cast<size_t>(i)])] - max_logit) * inv_temperature;
    d.weights[static_cast<size_t>(i)] = scaled >= min_p_floor ? static_cast<float>(std::exp(scaled)) : 0.0f;
    total += d.weights[static_cast<size_t>(i)];
  }

  // Nucleus: keep the smallest prefix whose mass reaches top_p (at least one token), as HF's TopPLogitsWarper.
  if (params_.top_p < 1.0) {
    double cumulative = 0;
    int64_t kept = k;
    for (int64_t i = 0; i < k; ++i) {
      cumulative += d.weights[static_cast<size_t>(i)] / total;
      if (cumulative >= params_.top_p) {
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
  const auto index = static_cast<uint64_t>(generated_count_) + provisional.size();
  SampledToken result;
  result.token = draw(d, sampling_uniform(params_.seed, stream_, index));
  result.logprob = token_logprob(logits, result.token);
  result.top_logprobs = top_token_logprobs(logits, params_.top_logprobs);
  if (commit_token) commit(result.token);
  return result;
}

}  // namespace sabre
