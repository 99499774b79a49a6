#include "kernels/cpu/cpu_backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/paged_attention.hpp"

// CpuBackend's paged KV cache and attention.

namespace sabre {
namespace {

// A pool of KV blocks. Per layer, keys and values each hold num_blocks blocks of block_size slots of
// kv_heads * head_dim floats: [layer][block][slot][kv head][dim]. A block's slots are adjacent, so a
// sequence's keys for one kv head are runs of block_size rows at a fixed stride, walked block by block.
class CpuKvCache final : public KvCache {
 public:
  explicit CpuKvCache(const KvCacheShape& shape)
      : shape_(shape),
        row_(shape.kv_heads * shape.head_dim),
        block_floats_(shape.block_size * row_),
        layer_floats_(shape.num_blocks * block_floats_),
        keys_(zeroed_floats(static_cast<size_t>(shape.layers * layer_floats_))),
        values_(zeroed_floats(static_cast<size_t>(shape.layers * layer_floats_))) {}
  const KvCacheShape& shape() const override { return shape_; }
  int64_t row_floats() const { return row_; }
  int64_t block_floats() const { return block_floats_; }
  float* keys(int64_t layer) { return keys_.get() + layer * layer_floats_; }
  float* values(int64_t layer) { return values_.get() + layer * layer_floats_; }

 private:
  KvCacheShape shape_;
  int64_t row_;
  int64_t block_floats_;
  int64_t layer_floats_;
  struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
  };
  using Floats = std::unique_ptr<float[], FreeDeleter>;
  // calloc rather than a zero-filled vector: a large pool comes from fresh, lazily mapped pages the
  // kernel zeroes on first touch, so it starts at once instead of writing gigabytes before the first
  // step (a 1 GiB pool took about 1.5 s). A slot is always written before it is read anyway.
  static Floats zeroed_floats(size_t n) {
    Floats floats(static_cast<float*>(std::calloc(n, sizeof(float))));
    if (!floats) throw std::bad_alloc();
    return floats;
  }

  Floats keys_;
  Floats values_;
};

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
// of one sequence), and into smaller ones when there are too few tasks to keep the threads busy.
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
  if (shape.dtype != ElementType::f32) {
    throw std::invalid_argument(fmt::format("the CPU backend cannot keep a KV cache of {}", element_type_name(shape.dtype)));
  }
  return std::make_unique<CpuKvCache>(shape);
}

size_t CpuBackend::kv_block_bytes(const KvCacheShape& shape) const {
  return static_cast<size_t>(2 * shape.layers * shape.block_size * shape.kv_heads * shape.head_dim) * sizeof(float);
}

void CpuBackend::copy_kv_blocks(KvCache& kv, std::span<const KvBlockCopy> copies) {
  CpuKvCache& cache = cpu_cache(&kv);
  const KvCacheShape& shape = cache.shape();
  const int64_t floats = cache.block_floats();
  for (const KvBlockCopy& copy : copies) {
    if (copy.from < 0 || copy.from >= shape.num_blocks || copy.to < 0 || copy.to >= shape.num_blocks) {
      throw std::invalid_argument(fmt::format("copy_kv_blocks: block {} -> {} is outside the pool of {} blocks",
                                              copy.from, copy.to, shape.num_blocks));
    }
    if (copy.from == copy.to) continue;
    for (int64_t layer = 0; layer < shape.layers; ++layer) {
      std::memcpy(cache.keys(layer) + copy.to * floats, cache.keys(layer) + copy.from * floats,
                  static_cast<size_t>(floats) * sizeof(float));
      std::memcpy(cache.values(layer) + copy.to * floats, cache.values(layer) + copy.from * floats,
                  static_cast<size_t>(floats) * sizeof(float));
    }
  }
}

void CpuBackend::store_kv(int64_t layer, const float* x, const HeadLayout& k, const HeadLayout& v) {
  CpuKvCache& cache = cpu_cache(step_.kv);
  const int64_t row = cache.row_floats();
  if (layer < 0 || layer >= cache.shape().layers) throw std::logic_error("CpuBackend::store_kv: layer out of range");
  if (k.heads * k.head_dim != row || v.heads * v.head_dim != row) {
    throw std::logic_error("CpuBackend::store_kv: head layout does not match the KV cache");
  }
  float* keys = cache.keys(layer);
  float* values = cache.values(layer);
  // Padding rows (slot -1) follow the real ones and store nothing.
  for (int64_t r = 0; r < step_.real_rows; ++r) {
    const float* source = x + r * k.row_stride;
    const int64_t slot = int64_t{step_.slot_mapping[static_cast<size_t>(r)]} * row;
    std::memcpy(keys + slot, source + k.offset, static_cast<size_t>(row) * sizeof(float));
    std::memcpy(values + slot, source + v.offset, static_cast<size_t>(row) * sizeof(float));
  }
}

void CpuBackend::attention(int64_t layer, const float* x, const HeadLayout& q, float scale, float* out) {
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
    return cpu::PagedKvHead{cache.keys(layer) + kv_head * head_dim, cache.values(layer) + kv_head * head_dim,
                            step_.block_tables.get() + sequence * limits_.max_blocks_per_sequence, shape.block_size,
                            cache.row_floats()};
  };
  // Tasks of up to kMaxQueriesPerTask queries sharing one kv head of one sequence, spread over the pool.
  // A query's result does not depend on its task or tile, so the split may follow the load.
  const int64_t total_queries = step_.real_rows * q.heads;
  if (total_queries == 0) return;
  const auto threads = static_cast<int64_t>(pool_.concurrency());
  const int64_t per_task =
      threads == 1 ? kMaxQueriesPerTask : std::clamp<int64_t>(total_queries / (2 * threads), 1, kMaxQueriesPerTask);
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
