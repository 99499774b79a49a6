#pragma once
// The CUDA kernels as host functions: each launches on `stream` and returns at once. Activations are
// `activation` elements (f32, bf16 or f16) behind void pointers, as in the Backend contract; the
// functions pick the template instantiation. Compiled by nvcc (the .cu files) and called from g++ code.

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/device_step.hpp"
#include "kernels/element_type.hpp"

namespace sabre::cuda {

// ---- row-wise (ops.cu) ----
// out[r] = table[token_ids[r] - first_id] converted, for rows 0 .. rows - 1; zeros for ids outside the
// table's table_rows rows.
void launch_embedding(const DeviceStep& step, int64_t rows, const void* table, ElementType table_type, int64_t dim,
                      int64_t first_id, int64_t table_rows, ElementType activation, void* out, cudaStream_t stream);
void launch_rms_norm(const void* x, int64_t rows, int64_t dim, const float* weight, float eps, void* y,
                     ElementType activation, cudaStream_t stream);
void launch_add_rms_norm(void* x, const void* residual, int64_t rows, int64_t dim, const float* weight, float eps,
                         void* y, ElementType activation, cudaStream_t stream);
void launch_head_rms_norm(void* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t offset, int64_t row_stride,
                          const float* weight, float eps, ElementType activation, cudaStream_t stream);
void launch_rope_table(const DeviceStep& step, int64_t rows, const float* inv_freq, int64_t half, float scaling,
                       float* cos_sin, cudaStream_t stream);
void launch_apply_rope(void* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t offset, int64_t row_stride,
                       const float* cos_sin, ElementType activation, cudaStream_t stream);
void launch_silu_mul(const void* gate_up, int64_t rows, int64_t inter, void* out, ElementType activation,
                     cudaStream_t stream);
void launch_add(void* x, const void* y, int64_t n, ElementType activation, cudaStream_t stream);
// y[r, o] += bias[o] over rows x out.
void launch_add_bias(void* y, int64_t rows, int64_t out, const float* bias, ElementType activation,
                     cudaStream_t stream);
// out[i] = x[logit_rows[i]] for i < count (rows of dim).
// logits[r][shard * shard_vocab + j] = gathered[shard][r][j] for columns below vocab.
void launch_gather_vocab_shards(const float* gathered, int64_t shards, int64_t rows, int64_t shard_vocab, int64_t vocab,
                                float* logits, cudaStream_t stream);
void launch_gather_rows(const DeviceStep& step, int64_t count, const void* x, int64_t dim, void* out,
                        ElementType activation, cudaStream_t stream);

// ---- quantised matrices (quantized.cu) ----
// y[rows, out] = x W^T (+ bias) for a packed (q8_0 / q4_1) W, one warp per output; rows at most kMaxGemvRows.
inline constexpr int64_t kMaxGemvRows = 8;
void launch_quantized_gemv(const void* x, int64_t rows, const void* w, ElementType w_type, int64_t out, int64_t in,
                           const float* bias, void* y, ElementType y_type, ElementType activation,
                           cudaStream_t stream);
// tile[n, in] = rows first_out .. first_out + n - 1 of a packed W, as `activation`.
void launch_dequantize_rows(const void* w, ElementType w_type, int64_t first_out, int64_t n, int64_t in, void* tile,
                            ElementType activation, cudaStream_t stream);

// ---- the KV cache (attention.cu) ----
struct KvLayerView {
  void* keys = nullptr;    // [block][kv head][slot][head_dim] of `type`
  void* values = nullptr;
  float* key_scales = nullptr;  // [block][kv head][slot] for the 8-bit types, else null
  float* value_scales = nullptr;
  ElementType type = ElementType::f32;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t block_size = 0;
};
// Writes rows 0 .. rows - 1 (those with a slot) of x's k and v heads into the cache.
void launch_store_kv(const DeviceStep& step, int64_t rows, const void* x, int64_t k_offset, int64_t v_offset,
                     int64_t row_stride, const KvLayerView& kv, ElementType activation, cudaStream_t stream);

struct AttentionLaunch {
  const void* x = nullptr;  // the fused qkv rows
  int64_t q_offset = 0;
  int64_t row_stride = 0;
  int64_t q_heads = 0;
  float scale = 1.0f;
  void* out = nullptr;  // rows of q_heads * head_dim
  float* partial_sums = nullptr;  // [partials][q_heads][head_dim]
  float* partial_stats = nullptr;  // [partials][q_heads][2]: running max (log2 units), sum of exponentials
  int64_t items = 0;   // blocks along x: the step's items, or an upper bound when capturing a graph
  int64_t merges = 0;  // likewise for the merge
};
void launch_paged_attention(const DeviceStep& step, const KvLayerView& kv, const AttentionLaunch& a,
                            ElementType activation, cudaStream_t stream);
// Block copies: every layer's keys, values and scales of block from -> to.
void launch_copy_kv_blocks(const KvLayerView* layers, int64_t layer_count, const int32_t* pairs, int64_t count,
                           cudaStream_t stream);

}  // namespace sabre::cuda
