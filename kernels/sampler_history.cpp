#include "kernels/sampler_history.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>
#include <stdexcept>

namespace sabre {
namespace {

void check_token_in_vocab(int32_t token, int64_t vocab, const char* field) {
  if (token < 0 || token >= vocab) {
    throw std::invalid_argument(
        fmt::format("Sampler: {} names token {}, outside the vocabulary of {} tokens", field, token, vocab));
  }
}

}  // namespace

SamplerHistory::SamplerHistory(const SamplingParams& params, std::span<const int32_t> prompt,
                               std::span<const int32_t> eos_token_ids, uint64_t stream,
                               const TokenConstraintFactory* constraint)
    : params_(params), stream_(stream) {
  params_.validate();
  ends_generation_ = params_.stop_token_ids;
  ends_generation_.insert(ends_generation_.end(), eos_token_ids.begin(), eos_token_ids.end());
  if (constraint != nullptr) constraint_ = constraint->start(ends_generation_);
  // Only the repetition penalty looks at the prompt; skip building the set when it is off.
  if (params_.repetition_penalty != 1.0) seen_.insert(prompt.begin(), prompt.end());
}

bool SamplerHistory::is_stop_token(int32_t token) const {
  return std::find(ends_generation_.begin(), ends_generation_.end(), token) != ends_generation_.end();
}

void SamplerHistory::commit(int32_t token) {
  if (constraint_) constraint_->commit(token);
  ++generated_count_;
  if (params_.repetition_penalty != 1.0) seen_.insert(token);
  if (params_.presence_penalty != 0 || params_.frequency_penalty != 0) ++output_counts_[token];
}

void SamplerHistory::allowed_tokens(std::span<const int32_t> provisional, int64_t vocab,
                                    std::vector<uint32_t>& words) const {
  words.assign(static_cast<size_t>((vocab + 31) / 32), 0);
  constraint_->allowed_tokens(provisional, words);
}

void SamplerHistory::adjustments(std::span<const int32_t> provisional, int64_t vocab,
                                 std::vector<LogitAdjustment>& out, bool constraint_masks) const {
  std::map<int32_t, LogitAdjustment> by_token;
  const auto entry = [&](int32_t token) -> LogitAdjustment& {
    LogitAdjustment& a = by_token[token];
    a.token = token;
    return a;
  };
  for (const auto& [token, bias] : params_.logit_bias) {
    check_token_in_vocab(token, vocab, "logit_bias");
    entry(token).bias += bias;
  }
  const auto generated = generated_count_ + static_cast<int64_t>(provisional.size());
  // A finished constraint allows only the ends: min_tokens yields rather than mask every token.
  if (generated < params_.min_tokens && !(constraint_ && constraint_->only_ends(provisional))) {
    for (int32_t token : ends_generation_) {
      check_token_in_vocab(token, vocab, "stop_token_ids/eos");
      entry(token).masked = true;
    }
  }
  for (int32_t token : provisional) check_token_in_vocab(token, vocab, "a provisional token");
  if (params_.repetition_penalty != 1.0) {
    for (int32_t token : seen_) {
      if (token >= 0 && token < vocab) entry(token).repeated = true;  // a prompt id the model never produces
    }
    for (int32_t token : provisional) entry(token).repeated = true;
  }
  if (params_.presence_penalty != 0 || params_.frequency_penalty != 0) {
    std::unordered_map<int32_t, int64_t> counts = output_counts_;
    for (int32_t token : provisional) ++counts[token];
    for (const auto& [token, count] : counts) {
      check_token_in_vocab(token, vocab, "the output history");
      entry(token).subtract =
          static_cast<float>(params_.frequency_penalty * static_cast<double>(count) + params_.presence_penalty);
    }
  }
  out.clear();
  if (!(constraint_ && constraint_masks)) {
    out.reserve(by_token.size());
    for (const auto& [token, a] : by_token) out.push_back(a);
    return;
  }
  // Every token the constraint rules out is masked: one pass over the vocabulary, merged in token order
  // with the few adjustments above (a map insertion per ruled-out token would cost far more).
  allowed_tokens(provisional, vocab, allowed_scratch_);
  auto next = by_token.begin();
  for (int32_t token = 0; token < vocab; ++token) {
    const bool allowed = (allowed_scratch_[static_cast<size_t>(token) / 32] >> (token % 32)) & 1;
    if (next != by_token.end() && next->first == token) {
      out.push_back(next->second);
      out.back().masked = out.back().masked || !allowed;
      ++next;
    } else if (!allowed) {
      out.push_back({token, 0.0f, true, false, 0.0f});
    }
  }
  for (; next != by_token.end(); ++next) out.push_back(next->second);  // ids past the vocabulary
}

void SamplerHistory::apply(std::span<const LogitAdjustment> adjustments, float repetition_penalty,
                           std::span<float> logits) {
  for (const LogitAdjustment& a : adjustments) {
    float& l = logits[static_cast<size_t>(a.token)];
    l += a.bias;
    if (a.masked) l = -std::numeric_limits<float>::infinity();
    if (a.repeated) l = l > 0 ? l / repetition_penalty : l * repetition_penalty;
    l -= a.subtract;
  }
}

}  // namespace sabre
