#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "kernels/cpu/cpu_backend.hpp"

// CpuBackend's sampling: one Sampler per registered sequence, run where the logits are (host memory).

namespace sabre {

void CpuBackend::add_samplers(std::span<const SamplerSpec> specs) {
  for (const SamplerSpec& spec : specs) {
    samplers_.insert_or_assign(
        spec.key, Sampler(spec.params, spec.prompt, spec.eos_token_ids, spec.stream, spec.constraint.get()));
  }
}

void CpuBackend::release_samplers(std::span<const uint64_t> keys) {
  for (uint64_t key : keys) samplers_.erase(key);
}

Sampler& CpuBackend::sampler_for(const SampleRow& row, int64_t logit_rows) {
  const auto it = samplers_.find(row.sampler);
  if (it == samplers_.end()) {
    throw std::invalid_argument(fmt::format("sample: no sampler is registered for sequence {}", row.sampler));
  }
  if (row.logits_row < 0 || row.logits_row >= logit_rows) {
    throw std::invalid_argument(
        fmt::format("sample: logits row {} of a step with {} logits rows", row.logits_row, logit_rows));
  }
  return it->second;
}

void CpuBackend::sample(const float* logits, int64_t logit_rows, int64_t vocab, std::span<const SampleRow> rows,
                        std::vector<SampledToken>& out) {
  out.clear();
  out.reserve(rows.size());
  for (const SampleRow& row : rows) {
    Sampler& sampler = sampler_for(row, logit_rows);
    const std::span<const float> row_logits(logits + int64_t{row.logits_row} * vocab, static_cast<size_t>(vocab));
    out.push_back(sampler.sample(row_logits, row.commit, row.provisional));
  }
}

void CpuBackend::distributions(const float* logits, int64_t logit_rows, int64_t vocab, std::span<const SampleRow> rows,
                               float* probabilities) {
  for (size_t i = 0; i < rows.size(); ++i) {
    const SampleRow& row = rows[i];
    const Sampler& sampler = sampler_for(row, logit_rows);
    const std::span<const float> row_logits(logits + int64_t{row.logits_row} * vocab, static_cast<size_t>(vocab));
    const Distribution& d = sampler.distribution(row_logits, row.provisional);
    float* out = probabilities + static_cast<int64_t>(i) * vocab;
    std::fill(out, out + vocab, 0.0f);
    for (size_t c = 0; c < d.tokens.size(); ++c) out[d.tokens[c]] = static_cast<float>(d.probability(c));
  }
}

void CpuBackend::commit(std::span<const CommittedToken> tokens) {
  for (const CommittedToken& t : tokens) {
    const auto it = samplers_.find(t.sampler);
    if (it == samplers_.end()) {
      throw std::invalid_argument(fmt::format("commit: no sampler is registered for sequence {}", t.sampler));
    }
    it->second.commit(t.token);
  }
}

}  // namespace sabre
