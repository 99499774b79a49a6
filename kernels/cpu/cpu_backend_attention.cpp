#include "kernels/cpu/cpu_backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/kv_store.hpp"
#include "kernels/cpu/paged_attention.hpp"

// CpuBackend's paged KV cache and attention.

namespace sabre {
namespace {

// A pool of KV blocks. Per layer, keys and values each hold num_blocks blocks of block_size slots of
// kv_heads * head_dim elements of the cache's type: [layer][block][slot][kv head][dim]. A block's slots
// are adjacent, so a sequence's keys for one kv head are runs of block_size rows at a fixed stride,
// walked block by block. 8-bit caches add a float scale per slot and kv head: [layer][block][slot][kv head].
class CpuKvCache final : public KvCache {
 public:
  explicit CpuKvCache(const KvCacheShape& shape)
      : shape_(shape),
        row_(shape.kv_heads * shape.head_dim),
        element_bytes_(element_block_bytes(shape.dtype)),
        layer_elements_(shape.num_blocks * shape.block_size * row_),
        layer_scales_(cpu::kv_type_is_scaled(shape.dtype) ? shape.num_blocks * shape.block_size * shape.kv_heads : 0),
        keys_(zeroed(static_cast<size_t>(shape.layers * layer_elements_) * element_bytes_)),
        values_(zeroed(static_cast<size_t>(shape.layers * layer_elements_) * element_bytes_)),
        key_scales_(zeroed(static_cast<size_t>(shape.layers * layer_scales_) * sizeof(float))),
        value_scales_(zeroed(static_cast<size_t>(shape.layers * layer_scales_) * sizeof(float))) {}
  const KvCacheShape& shape() const override { return shape_; }
  int64_t row_elements() const { return row_; }
  bool scaled() const { return layer_scales_ > 0; }
  std::byte* keys(int64_t layer) { return keys_.get() + static_cast<size_t>(layer * layer_elements_) * element_bytes_; }
  std::byte* values(int64_t layer) {
    return values_.get() + static_cast<size_t>(layer * layer_elements_) * element_bytes_;
  }
  float* key_scales(int64_t layer) { return reinterpret_cast<float*>(key_scales_.get()) + layer * layer_scales_; }
  float* value_scales(int64_t layer) { return reinterpret_cast<float*>(value_scales_.get()) + layer * layer_scales_; }
  size_t element_bytes() const { return element_bytes_; }
  // Copies block `from` to block `to` in every layer, scales included.
  void copy_block(int64_t from, int64_t to) {
    const size_t block_bytes = static_cast<size_t>(shape_.block_size * row_) * element_bytes_;
    const int64_t block_scales = shape_.block_size * shape_.kv_heads;
    for (int64_t layer = 0; layer < shape_.layers; ++layer) {
      std::memcpy(keys(layer) + to * block_bytes, keys(layer) + from * block_bytes, block_bytes);
      std::memcpy(values(layer) + to * block_bytes, values(layer) + from * block_bytes, block_bytes);
      if (scaled()) {
        std::copy_n(key_scales(layer) + from * block_scales, block_scales, key_scales(layer) + to * block_scales);
        std::copy_n(value_scales(layer) + from * block_scales, block_scales, value_scales(layer) + to * block_scales);
      }
    }
  }

 private:
  struct FreeDeleter {
    void operator()(std::byte* p) const { std::free(p); }
  };
  using Bytes = std::unique_ptr<std::byte[], FreeDeleter>;
  // calloc rather than a zero-filled vector: a large pool comes from fresh, lazily mapped pages the
  // kernel zeroes on first touch, so it starts at once instead of writing gigabytes before the first
  // step (a 1 GiB pool took about 1.5 s). A slot is always written before it is read anyway.
  static Bytes zeroed(size_t n) {
    Bytes bytes(static_cast<std::byte*>(std::calloc(std::max<size_t>(n, 1), 1)));
    if (!bytes) throw std::bad_alloc();
    return bytes;
  }

  KvCacheShape shape_;
  int64_t row_;
  size_t element_bytes_;
  int64_t layer_elements_;
  int64_t layer_scales_;
  Bytes keys_;
  Bytes values_;
  Bytes key_scales_;
  Bytes value_scales_;
};

void check_kv_dtype(ElementType type) {
  if (type != ElementType::f32 && type != ElementType::bf16 && type != ElementType::f16 && type != ElementType::i8 &&
      type != ElementType::fp8_e4m3) {
    throw std::invalid_argument(fmt::format("the CPU backend cannot keep a KV cache of {} (f32, bf16, f16, int8 or "
                                            "fp8_e4m3)",
                                            element_type_name(type)));
  }
}

CpuKvCache& cpu_cache(KvCache* kv) {
  if (kv == nullptr) throw std::logic_error("CpuBackend: an operation on the step before any step was uploaded");
  auto* cache = dynamic_cast<CpuKvCache*>(kv);
  if (cache == nullptr) throw std::logic_error("CpuBackend: a KV cache that is not a CPU block pool");
  return *cache;
}

// Every chunk, short or long, goes through the paged kernel. An OpenBLAS path (keys and values gathered
// out of the pool, then attention_head_gemm's two products per q head) was measured against it on this
// VM for SmolLM2's shape, one chunk from position 0, through CpuBackend::attention, ms per layer:
// one thread, paged vs products: 128 rows 0.65 vs 0.68, 512 rows 10.6 vs 13.1, 1024 rows 38 vs 51,
// 2048 rows 161 vs 203; two threads 2048 rows 139 vs 180. The kernel walks blocks and shares loads
// across a GQA group and across query tiles, and its tasks spread over the pool, so the products
// never won and were removed: default and batch-invariant mode attention are the same code.

// The paged kernel's work is cut into tasks of at most this many queries (rows x q heads of one kv head
// of one sequence), and into smaller ones when there are too few tasks to keep the threads busy, but
// never below one row's query group: each task reads its kv head's whole context, so splitting a group
// (a decode step's 3 q heads per kv head in SmolLM2) reads the keys and values from memory once more
// per piece, which costs more than the threads it balances.
constexpr int64_t kMaxQueriesPerTask = 64;

}  // namespace

std::unique_ptr<KvCache> CpuBackend::create_kv_cache(const KvCacheShape& shape) {
  if (shape.layers <= 0 || shape.kv_heads <= 0 || shape.head_dim <= 0 || shape.block_size <= 0 ||
      shape.num_blocks <= 0) {
    throw std::invalid_argument(fmt::format("KV cache of {} layers x {} kv heads x {} dims in {} blocks of {} tokens "
                                            "is empty",
                                            shape.layers, shape.kv_heads, shape.head_dim, shape.num_blocks,
                                            shape.block_size));
  }
  check_kv_dtype(shape.dtype);
  return std::make_unique<CpuKvCache>(shape);
}

size_t CpuBackend::kv_block_bytes(const KvCacheShape& shape) const {
  check_kv_dtype(shape.dtype);
  const size_t elements = static_cast<size_t>(shape.block_size * shape.kv_heads * shape.head_dim);
  const size_t scales = cpu::kv_type_is_scaled(shape.dtype) ? static_cast<size_t>(shape.block_size * shape.kv_heads) : 0;
  return 2 * static_cast<size_t>(shape.layers) * (elements * element_block_bytes(shape.dtype) + scales * sizeof(float));
}

void CpuBackend::copy_kv_blocks(KvCache& kv, std::span<const KvBlockCopy> copies) {
  CpuKvCache& cache = cpu_cache(&kv);
  const KvCacheShape& shape = cache.shape();
  for (const KvBlockCopy& copy : copies) {
    if (copy.from < 0 || copy.from >= shape.num_blocks || copy.to < 0 || copy.to >= shape.num_blocks) {
      throw std::invalid_argument(fmt::format("copy_kv_blocks: block {} -> {} is outside the pool of {} blocks",
                                              copy.from, copy.to, shape.num_blocks));
    }
    if (copy.from != copy.to) cache.copy_block(copy.from, copy.to);
  }
}

void CpuBackend::store_kv(int64_t layer, const void* activations, const HeadLayout& k, const HeadLayout& v) {
  const auto* x = static_cast<const float*>(activations);
  CpuKvCache& cache = cpu_cache(step_.kv);
  const KvCacheShape& shape = cache.shape();
  const int64_t row = cache.row_elements();
  if (layer < 0 || layer >= shape.layers) throw std::logic_error("CpuBackend::store_kv: layer out of range");
  if (k.heads * k.head_dim != row || v.heads * v.head_dim != row || k.head_dim != shape.head_dim) {
    throw std::logic_error("CpuBackend::store_kv: head layout does not match the KV cache");
  }
  std::byte* keys = cache.keys(layer);
  std::byte* values = cache.values(layer);
  float* key_scales = cache.key_scales(layer);
  float* value_scales = cache.value_scales(layer);
  const size_t element = cache.element_bytes();
  const int64_t head_dim = shape.head_dim;
  // Padding rows (slot -1) follow the real ones and store nothing. Each kv head is its own row for the
  // 8-bit types' scales.
  for (int64_t r = 0; r < step_.real_rows; ++r) {
    const float* source = x + r * k.row_stride;
    const int64_t slot = step_.slot_mapping[static_cast<size_t>(r)];
    for (int64_t h = 0; h < shape.kv_heads; ++h) {
      const size_t at = static_cast<size_t>(slot * row + h * head_dim) * element;
      const int64_t scale_at = slot * shape.kv_heads + h;
      cpu::store_kv_row(shape.dtype, source + k.offset + h * head_dim, head_dim, keys + at,
                        cache.scaled() ? key_scales + scale_at : nullptr);
      cpu::store_kv_row(shape.dtype, source + v.offset + h * head_dim, head_dim, values + at,
                        cache.scaled() ? value_scales + scale_at : nullptr);
    }
  }
}

void CpuBackend::attention(int64_t layer, const void* input, const HeadLayout& q, float scale, void* output) {
  const auto* x = static_cast<const float*>(input);
  auto* out = static_cast<float*>(output);
  CpuKvCache& cache = cpu_cache(step_.kv);
  const KvCacheShape& shape = cache.shape();
  const int64_t head_dim = q.head_dim;
  const int64_t out_stride = q.heads * head_dim;
  if (layer < 0 || layer >= shape.layers) throw std::logic_error("CpuBackend::attention: layer out of range");
  if (shape.kv_heads <= 0 || q.heads % shape.kv_heads != 0 || shape.head_dim != head_dim) {
    throw std::logic_error("CpuBackend::attention: q heads do not match the KV cache's kv heads");
  }
  const int64_t group = q.heads / shape.kv_heads;
  const int32_t* query_start = step_.query_start.get();
  const int32_t* context_lens = step_.context_lens.get();
  const auto paged_head = [&](int64_t sequence, int64_t kv_head) {
    const size_t head_offset = static_cast<size_t>(kv_head * head_dim) * cache.element_bytes();
    cpu::PagedKvHead head{cache.keys(layer) + head_offset, cache.values(layer) + head_offset,
                          step_.block_tables.get() + sequence * limits_.max_blocks_per_sequence, shape.block_size,
                          cache.row_elements(), shape.dtype};
    if (cache.scaled()) {
      head.key_scales = cache.key_scales(layer) + kv_head;
      head.value_scales = cache.value_scales(layer) + kv_head;
      head.scale_stride = shape.kv_heads;
    }
    return head;
  };
  // Tasks of up to kMaxQueriesPerTask queries sharing one kv head of one sequence, spread over the pool.
  // A query's result does not depend on its task or tile, so the split may follow the load.
  const int64_t total_queries = step_.real_rows * q.heads;
  if (total_queries == 0) return;
  const auto threads = static_cast<int64_t>(pool_.concurrency());
  const int64_t per_task = threads == 1 ? kMaxQueriesPerTask
                                        : std::clamp<int64_t>(total_queries / (2 * threads), std::min(group, kMaxQueriesPerTask),
                                                              kMaxQueriesPerTask);
  attention_tasks_.clear();
  for (int64_t s = 0; s < step_.sequences; ++s) {
    const int64_t queries = (query_start[s + 1] - query_start[s]) * group;
    for (int64_t kv_head = 0; kv_head < shape.kv_heads; ++kv_head) {
      for (int64_t first = 0; first < queries; first += per_task) {
        attention_tasks_.push_back({s, kv_head, first, std::min(per_task, queries - first)});
      }
    }
  }
  pool_.parallel_for(static_cast<int64_t>(attention_tasks_.size()), [&](int64_t index) {
    const AttentionTask& task = attention_tasks_[static_cast<size_t>(index)];
    const int64_t first_row = query_start[task.sequence];
    const int64_t rows = query_start[task.sequence + 1] - first_row;
    const int64_t first_position = context_lens[task.sequence] - rows;
    // Queries are numbered row-major over (row, q head of the group).
    thread_local std::vector<cpu::AttentionQuery> queries;
    thread_local std::vector<float> scratch;  // grows to the largest task once, then is reused
    queries.clear();
    for (int64_t n = task.first_query; n < task.first_query + task.queries; ++n) {
      const int64_t row = n / group;
      const int64_t head = task.kv_head * group + n % group;
      queries.push_back({x + (first_row + row) * q.row_stride + q.offset + head * head_dim, first_position + row + 1,
                         out + (first_row + row) * out_stride + head * head_dim});
    }
    const auto needed = static_cast<size_t>(cpu::paged_attention_scratch_floats(queries));
    if (scratch.size() < needed) scratch.resize(std::max(needed, scratch.size() * 2));
    cpu::paged_attention(queries, paged_head(task.sequence, task.kv_head), head_dim, scale, scratch.data());
  });
}

}  // namespace sabre
