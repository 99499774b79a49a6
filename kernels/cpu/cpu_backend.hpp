#pragma once
// The CPU implementation of the model's Backend: fp32 host buffers (weights in huge pages), fp32 or
// GGUF-quantised (Q8_0 / Q4_1) weights, OpenBLAS sgemm for prefill's matrix products, own GEMV kernels
// for decode, a paged KV block pool with its own attention kernel (paged_attention.hpp), and a
// ThreadPool for the GEMVs, attention tasks and row-wise kernels on long prompts.

#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/cpu/thread_pool.hpp"
#include "model/backend.hpp"

namespace sabre {

struct CpuBackendOptions {
  unsigned threads = 0;  // 0: all hardware threads. Also sets OpenBLAS's thread count when given.
  // Every row's result independent of what else shares the step (batch size, chunking, other
  // sequences): the same kernels with the same summation order for one row or many, instead of
  // OpenBLAS products for long runs of rows. Costs prefill speed; makes continuous batching
  // reproduce single-request outputs bit for bit.
  bool batch_invariant = false;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(CpuBackendOptions options = {});
  explicit CpuBackend(unsigned threads) : CpuBackend(CpuBackendOptions{threads}) {}

  std::string name() const override { return "cpu"; }

  std::unique_ptr<DeviceBuffer> allocate(size_t floats) override;
  std::unique_ptr<DeviceBuffer> upload(std::span<const float> host) override;
  std::unique_ptr<DeviceBuffer> upload(std::vector<float>&& host) override;
  std::unique_ptr<DeviceBuffer> upload_bytes(std::span<const std::byte> host) override;
  void download(const float* source, std::span<float> host) override;
  std::unique_ptr<KvCache> create_kv_cache(const KvCacheShape& shape) override;
  size_t kv_block_bytes(const KvCacheShape& shape) const override;
  void copy_kv_blocks(KvCache& cache, std::span<const KvBlockCopy> copies) override;

  void embedding(std::span<const int32_t> ids, const float* table, int64_t dim, float* out) override;
  void linear(const float* x, int64_t rows, const LinearWeight& w, float* y) override;
  void rms_norm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y) override;
  void head_rms_norm(float* x, int64_t rows, const HeadLayout& heads, const float* weight, float eps) override;
  void rope_table(std::span<const int32_t> positions, std::span<const float> inv_freq, float attention_scaling,
                  float* cos_sin) override;
  void apply_rope(float* x, int64_t rows, const HeadLayout& heads, const float* cos_sin) override;
  void store_kv(const float* x, const HeadLayout& k, const HeadLayout& v, std::span<const SequenceSlice> sequences,
                int64_t layer) override;
  void attention(const float* x, const HeadLayout& q, std::span<const SequenceSlice> sequences, int64_t layer,
                 float scale, float* out) override;
  void silu_mul(const float* gate_up, int64_t rows, int64_t inter, float* out) override;
  void add(float* x, const float* y, size_t n) override;
  void gather_rows(const float* x, int64_t dim, std::span<const int32_t> rows, float* out) override;

  unsigned threads() const { return pool_.concurrency(); }
  bool batch_invariant() const { return options_.batch_invariant; }

 private:
  // Splits `rows` into one block per thread when there are enough to pay for the wake-up.
  template <class F>
  void for_row_blocks(int64_t rows, F&& body);

  // linear() through the row-invariant kernel (runs of W's rows spread over the pool, any WeightFormat):
  // decode steps of a few rows in default mode, every row count in batch-invariant mode.
  void gemv_linear(const float* x, int64_t rows, const LinearWeight& w, float* y);
  // linear() for many rows (prefill) of a quantised W: dequantised tiles of W through sgemm.
  void quantized_gemm_linear(const float* x, int64_t rows, const LinearWeight& w, float* y);

  CpuBackendOptions options_;
  ThreadPool pool_;
  std::vector<float> dequantized_tile_;  // quantized_linear's prefill scratch, kept between calls
  // attention()'s task list, kept between steps so that steady decoding allocates nothing.
  struct AttentionTask {
    const SequenceSlice* slice;
    int64_t kv_head;
    int64_t first_query;  // into the slice's rows x group queries for this kv head, row-major
    int64_t queries;
  };
  std::vector<AttentionTask> attention_tasks_;
};

template <class F>
void CpuBackend::for_row_blocks(int64_t rows, F&& body) {
  // Rows below this per thread are done on the calling thread: waking the pool costs more than the work.
  constexpr int64_t kMinRowsPerThread = 4;
  const int64_t blocks = std::min<int64_t>(pool_.concurrency(), rows / kMinRowsPerThread);
  if (blocks <= 1) {
    body(0, rows);
    return;
  }
  pool_.parallel_for(blocks, [&](int64_t b) { body(rows * b / blocks, rows * (b + 1) / blocks); });
}

}  // namespace sabre
