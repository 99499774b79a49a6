#include "kernels/cpu/cpu_backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include <cblas.h>
#include <sys/mman.h>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/quantized_gemv.hpp"

namespace sabre {
namespace {

class HostBuffer final : public DeviceBuffer {
 public:
  explicit HostBuffer(size_t floats) : values_(floats) {}
  explicit HostBuffer(std::vector<float>&& values) : values_(std::move(values)) {}
  float* data() override { return values_.data(); }
  const float* data() const override { return values_.data(); }
  size_t size() const override { return values_.size(); }

 private:
  std::vector<float> values_;
};

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// Weights (uploads of 2 MB or more) live in 2 MB-aligned memory the kernel is asked to back with
// transparent huge pages: decoding streams every weight once per token, and with 4 KB pages each 4 KB
// costs a TLB miss (the VM's THP setting is "madvise", so plain vectors never get huge pages).
class HugePageBuffer final : public DeviceBuffer {
 public:
  explicit HugePageBuffer(size_t floats) : size_(floats) {
    const size_t bytes = (floats * sizeof(float) + kHugePage - 1) / kHugePage * kHugePage;
    values_.reset(static_cast<float*>(std::aligned_alloc(kHugePage, bytes)));
    if (!values_) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    madvise(values_.get(), bytes, MADV_HUGEPAGE);  // advisory: without THP the buffer still works
#endif
  }
  float* data() override { return values_.get(); }
  const float* data() const override { return values_.get(); }
  size_t size() const override { return size_; }

  static constexpr size_t kHugePage = size_t{2} << 20;

 private:
  std::unique_ptr<float[], FreeDeleter> values_;
  size_t size_;
};

std::unique_ptr<DeviceBuffer> weight_buffer(const void* source, size_t bytes) {
  const size_t floats = (bytes + sizeof(float) - 1) / sizeof(float);
  auto buffer = std::make_unique<HugePageBuffer>(floats);
  std::memcpy(buffer->data(), source, bytes);
  return buffer;
}

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

unsigned default_threads(unsigned requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

// Rows below this are done on the calling thread: waking the pool costs more than the work.
constexpr int64_t kMinRowsPerThread = 4;
// Query runs at least this long use matrix products for attention. Measured per head (head_dim 64, empty
// cache, the 2-core development VM): the per-query loop is faster up to ~16 queries (0.6 vs 1.2 us at 4),
// the products 1.2x faster at 32 and 2.2x at 512. The loop path also spreads heads over the thread
// pool, which favours it at the crossover.
constexpr int64_t kGemmAttentionRows = 24;
// Linear layers: up to this many rows (decode steps of a few sequences) use the pool-threaded GEMV
// (fused dequantise-and-dot for quantised W); more go to sgemm (quantised W dequantised tile by tile).
constexpr int64_t kMaxGemvRows = 4;
constexpr int64_t kGemvTasksPerThread = 4;   // some slack when a thread is descheduled
constexpr int64_t kMinGemvRowsPerTask = 32;
constexpr int64_t kPrefillTileFloats = 384 * 1024;

}  // namespace

CpuBackend::CpuBackend(CpuBackendOptions options)
    : options_(options), pool_(default_threads(options.threads) - 1) {
  // OpenBLAS keeps its own threads for the matrix products; by default it uses every core.
  if (options.threads > 0) openblas_set_num_threads(static_cast<int>(options.threads));
}

std::unique_ptr<DeviceBuffer> CpuBackend::allocate(size_t floats) { return std::make_unique<HostBuffer>(floats); }

std::unique_ptr<DeviceBuffer> CpuBackend::upload(std::span<const float> host) {
  if (host.size_bytes() >= HugePageBuffer::kHugePage) return weight_buffer(host.data(), host.size_bytes());
  auto buffer = std::make_unique<HostBuffer>(host.size());
  std::copy(host.begin(), host.end(), buffer->data());
  return buffer;
}

std::unique_ptr<DeviceBuffer> CpuBackend::upload(std::vector<float>&& host) {
  // Copied rather than adopted when large: one tensor at a time, so the peak memory barely grows.
  if (host.size() * sizeof(float) >= HugePageBuffer::kHugePage) {
    auto buffer = weight_buffer(host.data(), host.size() * sizeof(float));
    std::vector<float>().swap(host);
    return buffer;
  }
  return std::make_unique<HostBuffer>(std::move(host));
}

std::unique_ptr<DeviceBuffer> CpuBackend::upload_bytes(std::span<const std::byte> host) {
  if (host.size() >= HugePageBuffer::kHugePage) return weight_buffer(host.data(), host.size());
  // HostBuffer stores floats; round up so the bytes fit (the tail float is padding nobody reads).
  auto buffer = std::make_unique<HostBuffer>((host.size() + sizeof(float) - 1) / sizeof(float));
  std::memcpy(buffer->data(), host.data(), host.size());
  return buffer;
}

void CpuBackend::download(const float* source, std::span<float> host) {
  std::copy(source, source + host.size(), host.begin());
}

std::unique_ptr<KvCache> CpuBackend::create_kv_cache(const KvCacheShape& shape, int64_t capacity) {
  if (shape.layers <= 0 || shape.kv_heads <= 0 || shape.head_dim <= 0 || capacity <= 0) {
    throw std::invalid_argument(fmt::format("KV cache shape {}x{}x{} with capacity {} is empty", shape.layers,
                                            shape.kv_heads, shape.head_dim, capacity));
  }
  return std::make_unique<CpuKvCache>(shape, capacity);
}

template <class F>
void CpuBackend::for_row_blocks(int64_t rows, F&& body) {
  const int64_t blocks = std::min<int64_t>(pool_.concurrency(), rows / kMinRowsPerThread);
  if (blocks <= 1) {
    body(0, rows);
    return;
  }
  pool_.parallel_for(blocks, [&](int64_t b) { body(rows * b / blocks, rows * (b + 1) / blocks); });
}

void CpuBackend::embedding(std::span<const int32_t> ids, const float* table, int64_t dim, float* out) {
  for (size_t i = 0; i < ids.size(); ++i) {
    std::memcpy(out + static_cast<int64_t>(i) * dim, table + static_cast<int64_t>(ids[i]) * dim,
                static_cast<size_t>(dim) * sizeof(float));
  }
}

void CpuBackend::linear(const float* x, int64_t rows, const LinearWeight& w, float* y) {
  if (rows <= kMaxGemvRows) {
    gemv_linear(x, rows, w, y);
  } else if (w.format == WeightFormat::f32) {
    cpu::linear(x, rows, w.in_features, w.weight, w.bias, w.out_features, y);
  } else {
    quantized_gemm_linear(x, rows, w, y);
  }
}

void CpuBackend::gemv_linear(const float* x, int64_t rows, const LinearWeight& w, float* y) {
  const int64_t in = w.in_features;
  const int64_t out = w.out_features;
  // Each task takes a run of output rows for every input row, so W is read once per step.
  const auto rows_gemv = [&](int64_t begin, int64_t end) {
    for (int64_t r = 0; r < rows; ++r) {
      if (w.format == WeightFormat::f32) {
        cpu::f32_gemv(w.weight, in, x + r * in, begin, end, y + r * out + begin);
      } else {
        cpu::quantized_gemv(w.format, w.blocks, in, x + r * in, begin, end, y + r * out + begin);
      }
    }
  };
  const int64_t tasks = std::min<int64_t>(pool_.concurrency() * kGemvTasksPerThread, out / kMinGemvRowsPerTask);
  if (tasks <= 1) {
    rows_gemv(0, out);
  } else {
    pool_.parallel_for(tasks, [&](int64_t task) { rows_gemv(out * task / tasks, out * (task + 1) / tasks); });
  }
  if (w.bias) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < out; ++o) y[r * out + o] += w.bias[o];
    }
  }
}

void CpuBackend::quantized_gemm_linear(const float* x, int64_t rows, const LinearWeight& w, float* y) {
  const int64_t in = w.in_features;
  const int64_t out = w.out_features;
  // Dequantise a tile of W's rows (in parallel), then one sgemm per tile; the tile stays small enough
  // (<= 1.5 MB) to be reused from cache while sgemm walks the prompt rows.
  const int64_t tile = std::max<int64_t>(1, std::min<int64_t>(out, kPrefillTileFloats / in));
  dequantized_tile_.resize(static_cast<size_t>(tile * in));
  float* tile_data = dequantized_tile_.data();
  if (w.bias) {
    for (int64_t r = 0; r < rows; ++r) std::copy(w.bias, w.bias + out, y + r * out);
  }
  for (int64_t begin = 0; begin < out; begin += tile) {
    const int64_t count = std::min(tile, out - begin);
    for_row_blocks(count, [&](int64_t b, int64_t e) {
      cpu::dequantize_rows(w.format, w.blocks, in, begin + b, begin + e, tile_data + b * in);
    });
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(rows), static_cast<blasint>(count),
                static_cast<blasint>(in), 1.0f, x, static_cast<blasint>(in), tile_data, static_cast<blasint>(in),
                w.bias ? 1.0f : 0.0f, y + begin, static_cast<blasint>(out));
  }
}

void CpuBackend::rms_norm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y) {
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    cpu::rms_norm(x + begin * dim, end - begin, dim, weight, eps, y + begin * dim, dim, dim);
  });
}

void CpuBackend::head_rms_norm(float* x, int64_t rows, const HeadLayout& heads, const float* weight, float eps) {
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* row = x + r * heads.row_stride + heads.offset;
      cpu::rms_norm(row, heads.heads, heads.head_dim, weight, eps, row, heads.head_dim, heads.head_dim);
    }
  });
}

void CpuBackend::rope_table(std::span<const int32_t> positions, std::span<const float> inv_freq,
                            float attention_scaling, float* cos_sin) {
  cpu::rope_table(positions, inv_freq, attention_scaling, cos_sin);
}

void CpuBackend::apply_rope(float* x, int64_t rows, const HeadLayout& heads, const float* cos_sin) {
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    cpu::apply_rope(x + begin * heads.row_stride, end - begin, heads.heads, heads.head_dim, heads.offset,
                    heads.row_stride, cos_sin + begin * heads.head_dim);
  });
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

void CpuBackend::silu_mul(const float* gate_up, int64_t rows, int64_t inter, float* out) {
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    cpu::silu_mul(gate_up + begin * 2 * inter, end - begin, inter, out + begin * inter);
  });
}

void CpuBackend::add(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

void CpuBackend::gather_rows(const float* x, int64_t dim, std::span<const int32_t> rows, float* out) {
  for (size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(out + static_cast<int64_t>(i) * dim, x + static_cast<int64_t>(rows[i]) * dim,
                static_cast<size_t>(dim) * sizeof(float));
  }
}

}  // namespace sabre
