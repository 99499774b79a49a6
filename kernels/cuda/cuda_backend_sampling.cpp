#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/launch_sampling.hpp"
#include "kernels/philox.hpp"

// CudaBackend's sampling: the samplers' state stays on the host (kernels/sampler_history.hpp); per call
// each row's parameters, adjustments and draw go up in one copy, the kernels run where the logits are,
// and only the chosen ids with their log-probabilities come back.

namespace sabre {
namespace {

template <class T>
T* advance(std::byte*& at, size_t count) {
  auto* p = reinterpret_cast<T*>(at);
  at += (count * sizeof(T) + 15) / 16 * 16;
  return p;
}

size_t bytes_for(size_t rows, size_t adjustments) {
  return (rows * sizeof(cuda::SampleRowParams) + 15) / 16 * 16 + (adjustments * sizeof(cuda::DeviceAdjustment) + 15) / 16 * 16;
}

// Results, then `top` entries per row for top_logprobs.
size_t result_bytes(size_t rows, int64_t top) {
  return (rows * sizeof(cuda::SampleResult) + 15) / 16 * 16 + rows * static_cast<size_t>(top) * sizeof(cuda::TopEntry);
}

float raw_logprob(float logit, float raw_max, double raw_sum) {
  // The CPU's token_logprob: (l - max) in float, then in double.
  return static_cast<float>(static_cast<double>(logit - raw_max) - std::log(raw_sum));
}

}  // namespace

SamplerHistory& CudaBackend::history_for(uint64_t key, const char* what) {
  const auto it = samplers_.find(key);
  if (it == samplers_.end()) {
    throw std::invalid_argument(fmt::format("{}: no sampler is registered for sequence {}", what, key));
  }
  return it->second;
}

void CudaBackend::add_samplers(std::span<const SamplerSpec> specs) {
  for (const SamplerSpec& spec : specs) {
    samplers_.insert_or_assign(spec.key, SamplerHistory(spec.params, spec.prompt, spec.eos_token_ids, spec.stream,
                                                            spec.constraint.get()));
  }
}

void CudaBackend::release_samplers(std::span<const uint64_t> keys) {
  for (uint64_t key : keys) samplers_.erase(key);
}

void CudaBackend::commit(std::span<const CommittedToken> tokens) {
  for (const CommittedToken& t : tokens) history_for(t.sampler, "commit").commit(t.token);
}

void CudaBackend::sample(const float* logits, int64_t logit_rows, int64_t vocab, std::span<const SampleRow> rows,
                         std::vector<SampledToken>& out) {
  out.clear();
  out.reserve(rows.size());
  // Rows run together unless a row's sampler was committed by an earlier row of the same call: then the
  // later row must see that token in its history, as the CPU's row-by-row sampling does.
  size_t begin = 0;
  while (begin < rows.size()) {
    size_t end = begin;
    std::vector<uint64_t> committed;
    while (end < rows.size() &&
           std::find(committed.begin(), committed.end(), rows[end].sampler) == committed.end()) {
      if (rows[end].commit) committed.push_back(rows[end].sampler);
      ++end;
    }
    run_sampling(logits, logit_rows, vocab, rows.subspan(begin, end - begin), nullptr, &out);
    begin = end;
  }
}

void CudaBackend::distributions(const float* logits, int64_t logit_rows, int64_t vocab, std::span<const SampleRow> rows,
                                float* probabilities) {
  run_sampling(logits, logit_rows, vocab, rows, probabilities, nullptr);
}

void CudaBackend::run_sampling(const float* logits, int64_t logit_rows, int64_t vocab, std::span<const SampleRow> rows,
                               float* probabilities, std::vector<SampledToken>* out) {
  if (rows.empty()) return;
  // Everything that can be wrong with a row is found here, before anything runs or is committed.
  std::vector<cuda::SampleRowParams> params(rows.size());
  std::vector<cuda::DeviceAdjustment> adjustments;
  int64_t top = 1;  // top_logprobs entries per row: the most any row asks for
  for (size_t i = 0; i < rows.size(); ++i) {
    const SampleRow& row = rows[i];
    SamplerHistory& history = history_for(row.sampler, probabilities ? "distributions" : "sample");
    if (row.logits_row < 0 || row.logits_row >= logit_rows) {
      throw std::invalid_argument(
          fmt::format("sample: logits row {} of a step with {} logits rows", row.logits_row, logit_rows));
    }
    history.adjustments(row.provisional, vocab, adjustment_scratch_);
    const SamplingParams& s = history.params();
    cuda::SampleRowParams& p = params[i];
    p.logits_row = row.logits_row;
    p.greedy = history.greedy() ? 1 : 0;
    p.top_k = s.top_k > 0 && s.top_k < vocab ? static_cast<int32_t>(s.top_k) : 0;
    p.top_logprobs = static_cast<int32_t>(std::min<int64_t>(s.top_logprobs, vocab));
    top = std::max<int64_t>(top, p.top_logprobs);
    p.adjust_begin = static_cast<int32_t>(adjustments.size());
    p.adjust_count = static_cast<int32_t>(adjustment_scratch_.size());
    p.repetition_penalty = static_cast<float>(s.repetition_penalty);
    p.inv_temperature = s.temperature > 0 ? 1.0 / s.temperature : 0.0;
    p.top_p = s.top_p;
    p.min_p_floor = s.min_p > 0 ? std::log(s.min_p) : -std::numeric_limits<double>::infinity();
    const auto index = static_cast<uint64_t>(history.generated_count()) + row.provisional.size();
    p.uniform = sampling_uniform(s.seed, history.stream(), index);
    for (const LogitAdjustment& a : adjustment_scratch_) {
      adjustments.push_back({a.token, a.bias, a.subtract,
                             (a.masked ? cuda::kAdjustMasked : 0) | (a.repeated ? cuda::kAdjustRepeated : 0)});
    }
  }

  bind();
  const size_t in_bytes = bytes_for(params.size(), adjustments.size());
  if (sample_host_.bytes() < in_bytes) {
    stream_->synchronize();
    sample_host_ = cuda::PinnedMemory(in_bytes * 2, "sampling parameters");
    sample_device_ = cuda::DeviceMemory(in_bytes * 2, "sampling parameters");
  }
  const size_t processed_bytes = rows.size() * static_cast<size_t>(vocab) * sizeof(float);
  if (sample_processed_.bytes() < processed_bytes) {
    stream_->synchronize();
    sample_processed_ = cuda::DeviceMemory(processed_bytes, "adjusted logits");
  }
  const size_t out_bytes = result_bytes(rows.size(), top);
  if (sample_results_host_.bytes() < out_bytes) {
    stream_->synchronize();
    sample_results_host_ = cuda::PinnedMemory(out_bytes * 2, "sampling results");
    sample_results_device_ = cuda::DeviceMemory(out_bytes * 2, "sampling results");
  }
  // The previous call waited for its results, so the host buffers are free.
  std::byte* host = sample_host_.as<std::byte>();
  std::byte* at = host;
  std::memcpy(advance<cuda::SampleRowParams>(at, params.size()), params.data(), params.size() * sizeof(params[0]));
  std::memcpy(advance<cuda::DeviceAdjustment>(at, adjustments.size()), adjustments.data(),
              adjustments.size() * sizeof(cuda::DeviceAdjustment));
  cuda::check(cudaMemcpyAsync(sample_device_.get(), host, in_bytes, cudaMemcpyHostToDevice, stream()),
              "uploading sampling parameters");
  std::byte* device = sample_device_.as<std::byte>();
  const auto* device_params = advance<cuda::SampleRowParams>(device, params.size());
  const auto* device_adjustments = advance<cuda::DeviceAdjustment>(device, adjustments.size());
  std::byte* results_at = sample_results_device_.as<std::byte>();
  auto* device_results = advance<cuda::SampleResult>(results_at, rows.size());
  auto* device_top = reinterpret_cast<cuda::TopEntry*>(results_at);
  cuda::launch_sampling(logits, vocab, static_cast<int64_t>(rows.size()), device_params, device_adjustments,
                        sample_processed_.as<float>(), device_results, device_top, top, probabilities,
                        stream());
  cuda::check(cudaMemcpyAsync(sample_results_host_.get(), sample_results_device_.get(), out_bytes,
                              cudaMemcpyDeviceToHost, stream()),
              "downloading sampled tokens");
  stream_->synchronize();

  std::byte* results_host = sample_results_host_.as<std::byte>();
  const auto* results = advance<cuda::SampleResult>(results_host, rows.size());
  const auto* top_entries = reinterpret_cast<const cuda::TopEntry*>(results_host);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (results[i].status == cuda::kSampleAllMasked) {
      const SamplerHistory& history = history_for(rows[i].sampler, "sample");
      throw std::invalid_argument(fmt::format("Sampler: every one of the {} tokens is masked (step {})", vocab,
                                              history.generated_count() + static_cast<int64_t>(rows[i].provisional.size())));
    }
  }
  if (out == nullptr) return;  // distributions: the probabilities stay on the device
  for (size_t i = 0; i < rows.size(); ++i) {
    const cuda::SampleResult& r = results[i];
    SampledToken token;
    token.token = r.token;
    token.logprob = raw_logprob(r.token_logit, r.raw_max, r.raw_sum);
    const cuda::TopEntry* entries = top_entries + i * static_cast<size_t>(top);
    std::vector<cuda::TopEntry> best(entries, entries + r.top_count);
    std::sort(best.begin(), best.end(), [](const cuda::TopEntry& a, const cuda::TopEntry& b) {
      return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
    });
    for (const cuda::TopEntry& e : best) token.top_logprobs.push_back({e.token, raw_logprob(e.logit, r.raw_max, r.raw_sum)});
    out->push_back(std::move(token));
    if (rows[i].commit) history_for(rows[i].sampler, "sample").commit(r.token);
  }
}

}  // namespace sabre
