#include "kernels/cpu/cpu_backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/cpu_kernels.hpp"

// CpuBackend's KV cache and attention.

namespace sabre {
namespace {

// One sequence's keys and values: per layer, `capacity` rows of kv_heads * head_dim floats.
class CpuKvCache final : public KvCache {
 public:
  CpuKvCache(const KvCacheShape& shape, int64_t capacity)
      : shape_(shape),
        capacity_(capacity),
        row_(shape.kv_heads * shape.head_dim),
        keys_(static_cast<size_t>(shape.layers * capacity * row_)),
        values_(keys_.size()) {}
  int64_t capacity() const override { return capacity_; }
  int64_t row_floats() const { return row_; }
  float* keys(int64_t layer) { return keys_.data() + layer * capacity_ * row_; }
  float* values(int64_t layer) { return values_.data() + layer * capacity_ * row_; }
  const KvCacheShape& shape() const { return shape_; }

 private:
  KvCacheShape shape_;
  int64_t capacity_;
  int64_t row_;
  std::vector<float> keys_;
  std::vector<float> values_;
};

CpuKvCache& cpu_cache(const SequenceSlice& slice, int64_t layer) {
  auto* cache = dynamic_cast<CpuKvCache*>(slice.kv);
  if (cache == nullptr) throw std::logic_error("CpuBackend: a sequence's KV cache is not a CPU cache");
  if (slice.cached_tokens + slice.num_rows > cache->capacity()) {
    throw std::runtime_error(fmt::format("KV cache overflow: {} cached + {} new tokens exceed its capacity {}",
                                         slice.cached_tokens, slice.num_rows, cache->capacity()));
  }
  if (layer < 0 || layer >= cache->shape().layers) throw std::logic_error("CpuBackend: layer out of range");
  return *cache;
}

// Query runs at least this long use matrix products for attention. Measured per head (head_dim 64, empty
// cache, the 2-core development VM): the per-query loop is faster up to ~16 queries (0.6 vs 1.2 us at 4),
// the products 1.2x faster at 32 and 2.2x at 512. The loop path also spreads heads over the thread
// pool, which favours it at the crossover.
constexpr int64_t kGemmAttentionRows = 24;

}  // namespace

std::unique_ptr<KvCache> CpuBackend::create_kv_cache(const KvCacheShape& shape, int64_t capacity) {
  if (shape.layers <= 0 || shape.kv_heads <= 0 || shape.head_dim <= 0 || capacity <= 0) {
    throw std::invalid_argument(fmt::format("KV cache shape {}x{}x{} with capacity {} is empty", shape.layers,
                                            shape.kv_heads, shape.head_dim, capacity));
  }
  return std::make_unique<CpuKvCache>(shape, capacity);
}
void CpuBackend::store_kv(const float* x, const HeadLayout& k, const HeadLayout& v,
                          std::span<const SequenceSlice> sequences, int64_t layer) {
  for (const auto& slice : sequences) {
    CpuKvCache& cache = cpu_cache(slice, layer);
    const int64_t row = cache.row_floats();
    if (k.heads * k.head_dim != row || v.heads * v.head_dim != row) {
      throw std::logic_error("CpuBackend::store_kv: head layout does not match the KV cache");
    }
    float* keys = cache.keys(layer) + slice.cached_tokens * row;
    float* values = cache.values(layer) + slice.cached_tokens * row;
    for (int64_t i = 0; i < slice.num_rows; ++i) {
      const float* source = x + (slice.first_row + i) * k.row_stride;
      std::memcpy(keys + i * row, source + k.offset, static_cast<size_t>(row) * sizeof(float));
      std::memcpy(values + i * row, source + v.offset, static_cast<size_t>(row) * sizeof(float));
    }
  }
}

void CpuBackend::attention(const float* x, const HeadLayout& q, std::span<const SequenceSlice> sequences,
                           int64_t layer, float scale, float* out) {
  const int64_t head_dim = q.head_dim;
  const int64_t out_stride = q.heads * head_dim;
  const auto head_inputs = [&](const SequenceSlice& slice, int64_t head) {
    CpuKvCache& cache = cpu_cache(slice, layer);
    const int64_t kv_head = head / (q.heads / cache.shape().kv_heads);
    struct {
      const float* q;
      const float* k;
      const float* v;
      int64_t kv_stride;
      float* out;
    } in{x + slice.first_row * q.row_stride + q.offset + head * head_dim, cache.keys(layer) + kv_head * head_dim,
         cache.values(layer) + kv_head * head_dim, cache.row_floats(), out + slice.first_row * out_stride + head * head_dim};
    return in;
  };

  // Long runs of queries (prompts) go through OpenBLAS matrix products, one head after another, each
  // product threaded by OpenBLAS itself.
  for (const auto& slice : sequences) {
    if (slice.num_rows < kGemmAttentionRows) continue;
    for (int64_t head = 0; head < q.heads; ++head) {
      const auto in = head_inputs(slice, head);
      cpu::attention_head_gemm(in.q, q.row_stride, slice.num_rows, slice.cached_tokens, in.k, in.v, in.kv_stride,
                               head_dim, scale, in.out, out_stride, prefill_scores_);
    }
  }

  // Short runs (decode steps, small chunks): one task per (sequence, q head), spread over the pool;
  // enough tasks to keep every thread busy even for a single decoding sequence.
  short_slices_.clear();
  for (const auto& slice : sequences) {
    if (slice.num_rows < kGemmAttentionRows) short_slices_.push_back(&slice);
  }
  const int64_t tasks = static_cast<int64_t>(short_slices_.size()) * q.heads;
  pool_.parallel_for(tasks, [&](int64_t task) {
    const SequenceSlice& slice = *short_slices_[static_cast<size_t>(task / q.heads)];
    const auto in = head_inputs(slice, task % q.heads);
    thread_local std::vector<float> scores;  // grows to the longest context once, then is reused
    const auto needed = static_cast<size_t>(slice.cached_tokens + slice.num_rows);
    if (scores.size() < needed) scores.resize(std::max(needed, scores.size() * 2));
    cpu::attention_head(in.q, q.row_stride, slice.num_rows, slice.cached_tokens, in.k, in.v, in.kv_stride, head_dim,
                        scale, in.out, out_stride, scores.data());
  });
}

}  // namespace sabre
