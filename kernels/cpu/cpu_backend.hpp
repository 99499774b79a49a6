#pragma once
// The CPU implementation of Backend: fp32 activations in host memory (the void* activation arguments are
// float*), weights (in huge pages) in
// f32, bf16, f16 or GGUF's Q8_0 / Q4_1 blocks, OpenBLAS sgemm for prefill's matrix products, own GEMV
// kernels for decode, a paged KV block pool with its own attention kernel (paged_attention.hpp), and a
// ThreadPool for the GEMVs, attention tasks and row-wise kernels on long prompts. The step buffers are
// plain host arrays of fixed capacity: upload_step copies the description into them.

#include <algorithm>
#include <memory>
#include <vector>

#include <unordered_map>

#include "kernels/backend.hpp"
#include "kernels/cpu/int8_dot_gemm.hpp"
#include "kernels/cpu/sampler.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace sabre {

struct CpuBackendOptions {
  unsigned threads = 0;  // 0: all hardware threads. Also sets OpenBLAS's thread count when given.
  // Every row's result independent of what else shares the step (batch size, chunking, other
  // sequences): the same kernels with the same summation order for one row or many, instead of
  // OpenBLAS products for long runs of rows. Costs prefill speed; makes continuous batching
  // reproduce single-request outputs bit for bit.
  bool batch_invariant = false;
  // Decode steps (up to 16 rows) multiply the quantised formats cpu::int8_dot_supports through int8
  // activations and integer dot products (kernels/cpu/int8_dot_gemm.hpp: faster, each dot product off the
  // exact one by a bounded amount) unless this is set or batch_invariant is; the exact fp32 kernels are
  // what the parity tests use.
  bool exact_kernels = false;
  // Round every step's rows up to a multiple of this, as a backend replaying captured graphs does
  // (padded_rows). 1: no padding. It exists to exercise the padding rules of the step contract on a
  // machine without a GPU; padding rows are computed and thrown away.
  int64_t pad_rows_to = 1;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(CpuBackendOptions options = {});
  explicit CpuBackend(unsigned threads) : CpuBackend(CpuBackendOptions{threads}) {}

  std::string name() const override { return "cpu"; }
  ElementType activation_type() const override { return ElementType::f32; }
  // Every GGUF block format: decoded block by block as the products need them (quantized_gemv.hpp).
  bool multiplies_packed(ElementType packed) const override { return is_packed(packed); }
  bool permutes_linear_inputs() const override { return true; }
  bool multiplies_split_matrices() const override { return true; }

  using Backend::allocate;
  using Backend::upload;
  std::unique_ptr<Communicator> create_communicator(const CommunicatorOptions& options) override;
  std::unique_ptr<DeviceBuffer> allocate(ElementType type, int64_t elements) override;
  std::unique_ptr<DeviceBuffer> upload(ElementType type, int64_t elements, std::span<const std::byte> bytes) override;
  std::unique_ptr<DeviceBuffer> upload(std::vector<float>&& host) override;
  void write(DeviceBuffer& buffer, std::span<const std::byte> bytes) override;
  void download(const void* source, std::span<std::byte> host) override;
  using Backend::download;
  std::unique_ptr<KvCache> create_kv_cache(const KvCacheShape& shape) override;
  size_t kv_block_bytes(const KvCacheShape& shape) const override;
  void copy_kv_blocks(KvCache& cache, std::span<const KvBlockCopy> copies) override;

  void prepare(const StepLimits& limits) override;
  const StepLimits& limits() const override { return limits_; }
  int64_t padded_rows(int64_t rows) const override;
  void upload_step(const StepDescription& step) override;

  void embedding(const void* table, ElementType type, int64_t dim, int64_t first_id, int64_t table_rows,
                 void* out) override;
  void linear(const void* x, int64_t rows, const LinearWeight& w, void* y) override;
  void logits(const void* x, int64_t rows, const LinearWeight& w, float* logits) override;
  void rms_norm(const void* x, int64_t rows, int64_t dim, const float* weight, float eps, void* y) override;
  void add_rms_norm(void* x, const void* residual, int64_t rows, int64_t dim, const float* weight, float eps,
                    void* y) override;
  void head_rms_norm(void* x, int64_t rows, const HeadLayout& heads, const float* weight, float eps) override;
  void rope_table(std::span<const float> inv_freq, float attention_scaling, float* cos_sin) override;
  void apply_rope(void* x, int64_t rows, const HeadLayout& heads, const float* cos_sin) override;
  void store_kv(int64_t layer, const void* x, const HeadLayout& k, const HeadLayout& v) override;
  void attention(int64_t layer, const void* x, const HeadLayout& q, float scale, void* out) override;
  void silu_mul(const void* gate_up, int64_t rows, int64_t inter, void* out) override;
  void add(void* x, const void* y, size_t n) override;
  void gather_logit_rows(const void* x, int64_t dim, void* out) override;
  void gather_vocab_shards(const float* gathered, int64_t shards, int64_t rows, int64_t shard_vocab, int64_t vocab,
                           float* logits) override;

  void add_samplers(std::span<const SamplerSpec> specs) override;
  void release_samplers(std::span<const uint64_t> keys) override;
  void sample(const float* logits, int64_t logit_rows, int64_t vocab, std::span<const SampleRow> rows,
              std::vector<SampledToken>& out) override;
  void distributions(const float* logits, int64_t logit_rows, int64_t vocab, std::span<const SampleRow> rows,
                     float* probabilities) override;
  void commit(std::span<const CommittedToken> tokens) override;
  int64_t num_samplers() const { return static_cast<int64_t>(samplers_.size()); }

  unsigned threads() const { return pool_.concurrency(); }
  bool batch_invariant() const { return options_.batch_invariant; }

 private:
  // The current step, in arrays sized by prepare() that never move afterwards.
  struct StepBuffers {
    std::unique_ptr<int32_t[]> token_ids, positions, slot_mapping, query_start, context_lens, block_tables,
        logit_rows;
    int64_t rows = 0, real_rows = 0, sequences = 0, block_table_width = 0, logit_row_count = 0;
    KvCache* kv = nullptr;
  };

  // Splits `rows` into one block per thread when there are enough to pay for the wake-up.
  template <class F>
  void for_row_blocks(int64_t rows, F&& body);

  // linear() through the row-invariant kernel (runs of W's rows spread over the pool, any element type):
  // decode steps of a few rows in default mode, every row count in batch-invariant mode.
  void gemv_linear(const float* x, int64_t rows, const LinearWeight& w, float* y);
  // linear() for many rows (prefill) of a W that is not f32: converted tiles of W through sgemm.
  void converted_gemm_linear(const float* x, int64_t rows, const LinearWeight& w, float* y);
  void int8_dot_linear(const float* x, int64_t rows, const LinearWeight& w, float* y);

  CpuBackendOptions options_;
  ThreadPool pool_;
  StepLimits limits_{0, 0, 0, 0};
  StepBuffers step_;
  std::vector<float> converted_tile_;  // converted_gemm_linear's prefill scratch, kept between calls
  cpu::QuantizedActivations quantized_input_;  // int8_dot_linear's activations, kept between calls
  std::vector<float> permuted_input_;  // linear()'s inputs in a reordered matrix's column order
  // attention()'s task list, reserved by prepare() so that steady decoding allocates nothing.
  struct AttentionTask {
    int64_t sequence;
    int64_t kv_head;
    int64_t first_query;  // into the sequence's rows x group queries for this kv head, row-major
    int64_t queries;
  };
  std::vector<AttentionTask> attention_tasks_;
  std::unordered_map<uint64_t, Sampler> samplers_;  // by key (the engine's sequence ids)
  // The sampler a row names and the row's logits, checked.
  Sampler& sampler_for(const SampleRow& row, int64_t logit_rows);
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
