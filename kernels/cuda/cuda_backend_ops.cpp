#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/cuda_kv_cache.hpp"

// CudaBackend's operations: launches on the backend's stream (kernels/cuda/launch.hpp), reading the step
// from the step buffer.

namespace sabre {

void CudaBackend::embedding(const void* table, ElementType type, int64_t dim, int64_t first_id, int64_t table_rows,
                            void* out) {
  cuda::launch_embedding(view_, counts_.rows, table, type, dim, first_id, table_rows, options_.activation, out,
                         stream());
}

void CudaBackend::linear(const void* x, int64_t rows, const LinearWeight& w, void* y) {
  if (w.output_stride() != w.out_features) {
    throw std::logic_error("CudaBackend::linear: a strided output (a split matrix; multiplies_split_matrices is false)");
  }
  if (is_packed(w.type)) {
    if (gemv_rows(rows)) {
      cuda::launch_quantized_gemv(x, rows, w.weight, w.type, w.out_features, w.in_features, w.bias, y,
                                  options_.activation, options_.activation, stream());
      return;
    }
    dequantized_product(x, rows, w, y, options_.activation);
  } else {
    if (w.type != options_.activation) {
      throw std::logic_error(fmt::format("CudaBackend::linear: a {} matrix with {} activations", element_type_name(w.type),
                                         element_type_name(options_.activation)));
    }
    gemm_->run(x, w.weight, y, rows, w.out_features, w.in_features, w.out_features, w.type, options_.activation,
               stream());
  }
  if (w.bias != nullptr) cuda::launch_add_bias(y, rows, w.out_features, w.bias, options_.activation, stream());
}

void CudaBackend::logits(const void* x, int64_t rows, const LinearWeight& w, float* logits) {
  if (w.bias != nullptr) throw std::logic_error("CudaBackend::logits: an LM head with a bias");
  if (is_packed(w.type)) {
    if (gemv_rows(rows)) {
      cuda::launch_quantized_gemv(x, rows, w.weight, w.type, w.out_features, w.in_features, nullptr, logits,
                                  ElementType::f32, options_.activation, stream());
    } else {
      dequantized_product(x, rows, w, logits, ElementType::f32);
    }
    return;
  }
  if (w.type != options_.activation) {
    throw std::logic_error(fmt::format("CudaBackend::logits: a {} matrix with {} activations", element_type_name(w.type),
                                       element_type_name(options_.activation)));
  }
  gemm_->run(x, w.weight, logits, rows, w.out_features, w.in_features, w.out_features, w.type, ElementType::f32,
             stream());
}

void CudaBackend::dequantized_product(const void* x, int64_t rows, const LinearWeight& w, void* y, ElementType y_type) {
  ensure_dequant_tile(w.in_features);
  const size_t row_bytes = element_bytes(options_.activation, w.in_features);
  // Whole multiples of 128 rows, so that every slice's columns of y start 256-byte aligned, as
  // cuBLASLt's kernels assume of their operands.
  const int64_t slice = std::max<int64_t>(128, static_cast<int64_t>(dequant_tile_.bytes() / row_bytes) / 128 * 128);
  const size_t y_element = element_block_bytes(y_type);
  for (int64_t first = 0; first < w.out_features; first += slice) {
    const int64_t n = std::min(slice, w.out_features - first);
    cuda::launch_dequantize_rows(w.weight, w.type, first, n, w.in_features, dequant_tile_.get(), options_.activation,
                                 stream());
    // Columns first .. first + n of y: the same rows at y's full stride.
    gemm_->run(x, dequant_tile_.get(), static_cast<std::byte*>(y) + static_cast<size_t>(first) * y_element, rows, n,
               w.in_features, w.out_features, options_.activation, y_type, stream());
  }
}

void CudaBackend::rms_norm(const void* x, int64_t rows, int64_t dim, const float* weight, float eps, void* y) {
  cuda::launch_rms_norm(x, rows, dim, weight, eps, y, options_.activation, stream());
}

void CudaBackend::add_rms_norm(void* x, const void* residual, int64_t rows, int64_t dim, const float* weight,
                               float eps, void* y) {
  cuda::launch_add_rms_norm(x, residual, rows, dim, weight, eps, y, options_.activation, stream());
}

void CudaBackend::head_rms_norm(void* x, int64_t rows, const HeadLayout& heads, const float* weight, float eps) {
  cuda::launch_head_rms_norm(x, rows, heads.heads, heads.head_dim, heads.offset, heads.row_stride, weight, eps,
                             options_.activation, stream());
}

void CudaBackend::rope_table(std::span<const float> inv_freq, float attention_scaling, float* cos_sin) {
  cuda::launch_rope_table(view_, counts_.rows, inv_freq.data(), static_cast<int64_t>(inv_freq.size()),
                          attention_scaling, cos_sin, stream());
}

void CudaBackend::apply_rope(void* x, int64_t rows, const HeadLayout& heads, const float* cos_sin) {
  cuda::launch_apply_rope(x, rows, heads.heads, heads.head_dim, heads.offset, heads.row_stride, cos_sin,
                          options_.activation, stream());
}

void CudaBackend::store_kv(int64_t layer, const void* x, const HeadLayout& k, const HeadLayout& v) {
  CudaKvCache& cache = step_cache();
  if (k.row_stride != v.row_stride || k.heads != cache.shape().kv_heads || k.head_dim != cache.shape().head_dim) {
    throw std::invalid_argument("store_kv: the k and v layouts do not match the step's KV pool");
  }
  cuda::launch_store_kv(view_, counts_.rows, x, k.offset, v.offset, k.row_stride, cache.layer(layer),
                        options_.activation, stream());
}

void CudaBackend::attention(int64_t layer, const void* x, const HeadLayout& q, float scale, void* out) {
  CudaKvCache& cache = step_cache();
  if (q.heads != cache.shape().query_heads() || q.head_dim != cache.shape().head_dim) {
    throw std::invalid_argument(fmt::format("attention: {} query heads of {} for a KV pool planned for {} of {}",
                                            q.heads, q.head_dim, cache.shape().query_heads(),
                                            cache.shape().head_dim));
  }
  cuda::AttentionLaunch a;
  a.x = x;
  a.q_offset = q.offset;
  a.row_stride = q.row_stride;
  a.q_heads = q.heads;
  a.scale = scale;
  a.out = out;
  a.partial_sums = partial_sums_.as<float>();
  a.partial_stats = partial_stats_.as<float>();
  // A recorded graph serves every step of its size: its grids cover the most work such a step can have,
  // and the kernels read the current step's counts.
  a.items = capturing_ ? cuda::max_attention_items(counts_.rows) : counts_.attention_items;
  a.merges = capturing_ ? counts_.rows : counts_.merges;
  cuda::launch_paged_attention(view_, cache.layer(layer), a, options_.activation, stream());
}

void CudaBackend::silu_mul(const void* gate_up, int64_t rows, int64_t inter, void* out) {
  cuda::launch_silu_mul(gate_up, rows, inter, out, options_.activation, stream());
}

void CudaBackend::add(void* x, const void* y, size_t n) {
  cuda::launch_add(x, y, static_cast<int64_t>(n), options_.activation, stream());
}

void CudaBackend::gather_vocab_shards(const float* gathered, int64_t shards, int64_t rows, int64_t shard_vocab,
                                      int64_t vocab, float* logits) {
  cuda::launch_gather_vocab_shards(gathered, shards, rows, shard_vocab, vocab, logits, stream());
}

void CudaBackend::gather_logit_rows(const void* x, int64_t dim, void* out) {
  cuda::launch_gather_rows(view_, logit_row_count_, x, dim, out, options_.activation, stream());
}

}  // namespace sabre
