#pragma once
// The CUDA implementation of Backend: activations in bf16 or fp16 (or fp32, for exact comparisons with the
// CPU) in device memory, matrices in the activation type through cuBLASLt or in GGUF's Q8_0 / Q4_1 blocks
// through a fused GEMV (decode) or dequantised tiles (prefill), a paged KV cache of any contract type,
// paged attention over a per-step work list, and sampling on the device.
//
// Threads: the backend belongs to one actor at a time. Entry points that start work (prepare,
// upload_step, the memory functions, sampling) make the backend's GPU the calling thread's current
// device; the operations of a step run on the thread that uploaded it (one actor message runs the whole
// forward pass), so they skip that call. Everything runs on one stream in order; only download() and
// sampling wait for the GPU.

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/cuda/attention_plan.hpp"
#include "kernels/cuda/cuda_device.hpp"
#include "kernels/cuda/cuda_memory.hpp"
#include "kernels/cuda/device_step.hpp"
#include "kernels/cuda/gemm.hpp"
#include "kernels/cuda/graph_sizes.hpp"
#include "kernels/cuda/launch.hpp"
#include "kernels/cuda/sampling_rows.hpp"
#include "kernels/sampler_history.hpp"

namespace sabre {

class CudaKvCache;

struct CudaBackendOptions {
  int device = 0;
  // What activations are kept in and what float matrices are converted to: bf16, f16 or f32.
  ElementType activation = ElementType::bf16;
  // Every row's result independent of what else shares its step (one cuBLASLt algorithm per shape).
  bool batch_invariant = false;
  size_t gemm_workspace_bytes = size_t{32} << 20;
  // Steps of up to this many rows replay captured graphs (padded to a captured size); 0: as many as the
  // step limits' logits rows; graphs off when enable_graphs is false.
  bool enable_graphs = true;
  int64_t graph_max_batch = 0;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(CudaBackendOptions options);
  ~CudaBackend() override;

  std::string name() const override { return "cuda"; }
  ElementType activation_type() const override { return options_.activation; }
  ElementType weight_float_type(ElementType requested) const override { return options_.activation; }
  // Q8_0 and Q4_1 have dequantize-GEMV and tile kernels here; other block formats are widened at load.
  bool multiplies_packed(ElementType packed) const override {
    return packed == ElementType::q8_0 || packed == ElementType::q4_1;
  }
  const cuda::DeviceProperties& device() const { return device_; }
  // Waits for everything queued so far.
  void synchronize();

  std::unique_ptr<Communicator> create_communicator(const CommunicatorOptions& options) override;
  std::unique_ptr<DeviceBuffer> allocate(ElementType type, int64_t elements) override;
  std::unique_ptr<DeviceBuffer> upload(ElementType type, int64_t elements, std::span<const std::byte> bytes) override;
  using Backend::upload;
  void write(DeviceBuffer& buffer, std::span<const std::byte> bytes) override;
  void download(const void* source, std::span<std::byte> host) override;
  using Backend::download;
  std::optional<DeviceMemoryInfo> device_memory() override;

  std::unique_ptr<KvCache> create_kv_cache(const KvCacheShape& shape) override;
  size_t kv_block_bytes(const KvCacheShape& shape) const override;
  void copy_kv_blocks(KvCache& cache, std::span<const KvBlockCopy> copies) override;

  void prepare(const StepLimits& limits) override;
  const StepLimits& limits() const override { return limits_; }
  int64_t padded_rows(int64_t rows) const override { return graph_sizes_.padded(rows); }
  int64_t logit_rows_computed(int64_t logit_rows, int64_t padded_rows) const override;
  void upload_step(const StepDescription& step) override;
  void run_step(const std::function<void()>& ops) override;
  // Graphs recorded so far (for logs and tests).
  size_t captured_graphs() const { return graphs_.size(); }

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

 private:
  // Where each array of the step sits in the step buffer (bytes from its start), fixed by the limits.
  struct StepLayout {
    size_t counts = 0, query_start = 0, context_lens = 0, logit_rows = 0, token_ids = 0, positions = 0,
           slot_mapping = 0, items = 0, merges = 0, block_tables = 0, end = 0;
  };
  static StepLayout step_layout(const StepLimits& limits);
  void bind() const;
  cudaStream_t stream() const { return stream_->get(); }
  CudaKvCache& step_cache() const;
  void ensure_partials(const cuda::AttentionGeometry& geometry);
  void ensure_dequant_tile(int64_t in_features);
  // Whether a packed matrix's product of `rows` rows takes the fused GEMV: decode-sized steps, except in
  // batch-invariant mode, where every step takes the tiles so that a row's arithmetic never changes.
  bool gemv_rows(int64_t rows) const { return rows <= cuda::kMaxGemvRows && !options_.batch_invariant; }
  // y = x W^T for a packed W and more rows than the GEMV takes: slices of W dequantised, then cuBLASLt.
  void dequantized_product(const void* x, int64_t rows, const LinearWeight& w, void* y, ElementType y_type);
  // One wave of rows (no sampler committed twice): parameters up, kernels, results down.
  void run_sampling(const float* logits, int64_t logit_rows, int64_t vocab, std::span<const SampleRow> rows,
                    float* probabilities, std::vector<SampledToken>* out);
  SamplerHistory& history_for(uint64_t key, const char* what);

  CudaBackendOptions options_;
  cuda::DeviceProperties device_;
  std::unique_ptr<cuda::Stream> stream_;
  std::unique_ptr<cuda::Gemm> gemm_;

  // Weight uploads go through two pinned buffers in turn, each reused once its copy has finished.
  std::array<cuda::PinnedMemory, 2> staging_;
  std::array<std::unique_ptr<cuda::Event>, 2> staging_done_;
  int next_staging_ = 0;

  // The step: limits, buffer layout, the device buffer and its pinned mirror, the current step's counts.
  StepLimits limits_{0, 0, 0, 0};
  StepLayout layout_;
  cuda::DeviceMemory step_device_;
  cuda::PinnedMemory step_host_;
  std::unique_ptr<cuda::Event> step_sent_;
  cuda::DeviceStep view_;
  cuda::StepCounts counts_;
  KvCache* step_kv_ = nullptr;
  cuda::AttentionPlan plan_;
  int64_t logit_row_count_ = 0;

  // Graphs by (step rows, KV pool serial): a graph bakes in the pool's addresses. capturing_ makes the
  // operations size their grids for the most work a step of this size can have.
  cuda::GraphSizes graph_sizes_;
  std::map<std::pair<int64_t, uint64_t>, std::unique_ptr<cuda::GraphExec>> graphs_;
  std::set<std::pair<int64_t, uint64_t>> warmed_up_;  // sizes that ran once directly
  bool capturing_ = false;
  bool graphs_failed_ = false;

  // Split decodes' partial sums, sized for the geometry and limits in use.
  cuda::DeviceMemory partial_sums_;
  cuda::DeviceMemory partial_stats_;

  // A slice of a quantised matrix in the activation type, for long steps.
  cuda::DeviceMemory dequant_tile_;

  // Sampling: host state per sequence, and the per-call buffers (grown as needed).
  std::unordered_map<uint64_t, SamplerHistory> samplers_;
  std::vector<LogitAdjustment> adjustment_scratch_;
  cuda::PinnedMemory sample_host_;
  cuda::DeviceMemory sample_device_;
  cuda::DeviceMemory sample_processed_;
  cuda::PinnedMemory sample_results_host_;
  cuda::DeviceMemory sample_results_device_;
};

}  // namespace sabre
