// Row-wise kernels: embedding, the norms, RoPE, SiLU-and-mul, additions, gathering logits rows.
// Arithmetic in fp32, activations read and written in their own type.

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/launch.hpp"

namespace sabre::cuda {
namespace {

constexpr unsigned kRowThreads = 256;

template <class T>
__global__ void embedding_kernel(DeviceStep step, const std::byte* table, ElementType type, int64_t row_bytes,
                                 int64_t dim, int64_t first_id, int64_t table_rows, T* out) {
  const int64_t r = blockIdx.x;
  const int64_t id = static_cast<int64_t>(step.token_ids[r]) - first_id;
  if (id < 0 || id >= table_rows) {  // another rank's part of the vocabulary
    for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) out[r * dim + i] = from_float<T>(0.0f);
    return;
  }
  const std::byte* row = table + id * row_bytes;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) out[r * dim + i] = from_float<T>(load_element(row, type, i));
}

__global__ void gather_vocab_shards_kernel(const float* gathered, int64_t rows, int64_t shard_vocab, int64_t vocab,
                                           float* logits) {
  const int64_t shard = blockIdx.y, r = blockIdx.x;
  const float* from = gathered + (shard * rows + r) * shard_vocab;
  for (int64_t j = threadIdx.x; j < shard_vocab && shard * shard_vocab + j < vocab; j += blockDim.x) {
    logits[r * vocab + shard * shard_vocab + j] = from[j];
  }
}

template <class T>
__global__ void rms_norm_kernel(const T* x, int64_t dim, const float* weight, float eps, T* y) {
  __shared__ float scratch[32];
  const int64_t r = blockIdx.x;
  const T* row = x + r * dim;
  float squares = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float v = to_float(row[i]);
    squares += v * v;
  }
  const float inverse = rsqrtf(block_sum(squares, scratch) / static_cast<float>(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    y[r * dim + i] = from_float<T>(to_float(row[i]) * inverse * weight[i]);
  }
}

// x += residual (rounded to T, as the residual stream is kept), then y = rms_norm(x). Each thread
// reads back only the elements it wrote itself, so the two passes need no barrier between them.
template <class T>
__global__ void add_rms_norm_kernel(T* x, const T* residual, int64_t dim, const float* weight, float eps, T* y) {
  __shared__ float scratch[32];
  const int64_t r = blockIdx.x;
  T* row = x + r * dim;
  float squares = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const T sum = from_float<T>(to_float(row[i]) + to_float(residual[r * dim + i]));
    row[i] = sum;
    const float v = to_float(sum);
    squares += v * v;
  }
  const float inverse = rsqrtf(block_sum(squares, scratch) / static_cast<float>(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    y[r * dim + i] = from_float<T>(to_float(row[i]) * inverse * weight[i]);
  }
}

// One warp per (row, head).
template <class T>
__global__ void head_rms_norm_kernel(T* x, int64_t heads, int64_t head_dim, int64_t offset, int64_t row_stride,
                                     const float* weight, float eps) {
  const int64_t r = blockIdx.x, h = blockIdx.y;
  T* head = x + r * row_stride + offset + h * head_dim;
  float squares = 0.0f;
  for (int64_t i = threadIdx.x; i < head_dim; i += 32) {
    const float v = to_float(head[i]);
    squares += v * v;
  }
  const float inverse = rsqrtf(warp_sum(squares) / static_cast<float>(head_dim) + eps);
  for (int64_t i = threadIdx.x; i < head_dim; i += 32) head[i] = from_float<T>(to_float(head[i]) * inverse * weight[i]);
}

__global__ void rope_table_kernel(DeviceStep step, const float* inv_freq, int64_t half, float scaling, float* cos_sin) {
  const int64_t r = blockIdx.x;
  const float p = static_cast<float>(step.positions[r]);
  for (int64_t i = threadIdx.x; i < half; i += blockDim.x) {
    const float angle = p * inv_freq[i];  // an fp32 product, as transformers computes it
    cos_sin[r * 2 * half + i] = cosf(angle) * scaling;
    cos_sin[r * 2 * half + half + i] = sinf(angle) * scaling;
  }
}

// rotate_half pairing: (i, i + half) of every head.
template <class T>
__global__ void apply_rope_kernel(T* x, int64_t heads, int64_t head_dim, int64_t offset, int64_t row_stride,
                                  const float* cos_sin) {
  const int64_t r = blockIdx.x;
  const int64_t half = head_dim / 2;
  const float* cos = cos_sin + r * head_dim;
  const float* sin = cos + half;
  for (int64_t k = threadIdx.x; k < heads * half; k += blockDim.x) {
    const int64_t h = k / half, i = k % half;
    T* head = x + r * row_stride + offset + h * head_dim;
    const float a = to_float(head[i]), b = to_float(head[i + half]);
    head[i] = from_float<T>(a * cos[i] - b * sin[i]);
    head[i + half] = from_float<T>(b * cos[i] + a * sin[i]);
  }
}

template <class T>
__global__ void silu_mul_kernel(const T* gate_up, int64_t rows, int64_t inter, T* out) {
  const int64_t n = rows * inter;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = k / inter, i = k % inter;
    const float g = to_float(gate_up[r * 2 * inter + i]);
    const float u = to_float(gate_up[r * 2 * inter + inter + i]);
    out[k] = from_float<T>(g / (1.0f + expf(-g)) * u);
  }
}

template <class T>
__global__ void add_kernel(T* x, const T* y, int64_t n) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    x[k] = from_float<T>(to_float(x[k]) + to_float(y[k]));
  }
}

template <class T>
__global__ void add_bias_kernel(T* y, int64_t rows, int64_t out, const float* bias) {
  const int64_t n = rows * out;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < n;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    y[k] = from_float<T>(to_float(y[k]) + bias[k % out]);
  }
}

template <class T>
__global__ void gather_rows_kernel(DeviceStep step, const T* x, int64_t dim, T* out) {
  const int64_t i = blockIdx.x;
  const T* row = x + static_cast<int64_t>(step.logit_rows[i]) * dim;
  for (int64_t d = threadIdx.x; d < dim; d += blockDim.x) out[i * dim + d] = row[d];
}

// Enough blocks of 256 for n elements, capped where a grid-stride loop covers the rest.
unsigned stride_blocks(int64_t n) { return static_cast<unsigned>(std::min<int64_t>((n + 255) / 256, 65536)); }

}  // namespace

void launch_embedding(const DeviceStep& step, int64_t rows, const void* table, ElementType table_type, int64_t dim,
                      int64_t first_id, int64_t table_rows, ElementType activation, void* out, cudaStream_t stream) {
  const auto row_bytes = static_cast<int64_t>(element_bytes(table_type, dim));
  dispatch_float_type(activation, "embedding", [&](auto tag) {
    using T = decltype(tag);
    embedding_kernel<T><<<static_cast<unsigned>(rows), kRowThreads, 0, stream>>>(
        step, static_cast<const std::byte*>(table), table_type, row_bytes, dim, first_id, table_rows,
        static_cast<T*>(out));
  });
  check_launch("embedding");
}

void launch_gather_vocab_shards(const float* gathered, int64_t shards, int64_t rows, int64_t shard_vocab, int64_t vocab,
                                float* logits, cudaStream_t stream) {
  if (rows == 0) return;
  gather_vocab_shards_kernel<<<dim3(static_cast<unsigned>(rows), static_cast<unsigned>(shards)), kRowThreads, 0,
                               stream>>>(gathered, rows, shard_vocab, vocab, logits);
  check_launch("gather_vocab_shards");
}

void launch_rms_norm(const void* x, int64_t rows, int64_t dim, const float* weight, float eps, void* y,
                     ElementType activation, cudaStream_t stream) {
  dispatch_float_type(activation, "rms_norm", [&](auto tag) {
    using T = decltype(tag);
    rms_norm_kernel<T><<<static_cast<unsigned>(rows), kRowThreads, 0, stream>>>(static_cast<const T*>(x), dim, weight,
                                                                                eps, static_cast<T*>(y));
  });
  check_launch("rms_norm");
}

void launch_add_rms_norm(void* x, const void* residual, int64_t rows, int64_t dim, const float* weight, float eps,
                         void* y, ElementType activation, cudaStream_t stream) {
  dispatch_float_type(activation, "add_rms_norm", [&](auto tag) {
    using T = decltype(tag);
    add_rms_norm_kernel<T><<<static_cast<unsigned>(rows), kRowThreads, 0, stream>>>(
        static_cast<T*>(x), static_cast<const T*>(residual), dim, weight, eps, static_cast<T*>(y));
  });
  check_launch("add_rms_norm");
}

void launch_head_rms_norm(void* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t offset, int64_t row_stride,
                          const float* weight, float eps, ElementType activation, cudaStream_t stream) {
  dispatch_float_type(activation, "head_rms_norm", [&](auto tag) {
    using T = decltype(tag);
    head_rms_norm_kernel<T><<<dim3(static_cast<unsigned>(rows), static_cast<unsigned>(heads)), 32, 0, stream>>>(
        static_cast<T*>(x), heads, head_dim, offset, row_stride, weight, eps);
  });
  check_launch("head_rms_norm");
}

void launch_rope_table(const DeviceStep& step, int64_t rows, const float* inv_freq, int64_t half, float scaling,
                       float* cos_sin, cudaStream_t stream) {
  rope_table_kernel<<<static_cast<unsigned>(rows), 64, 0, stream>>>(step, inv_freq, half, scaling, cos_sin);
  check_launch("rope_table");
}

void launch_apply_rope(void* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t offset, int64_t row_stride,
                       const float* cos_sin, ElementType activation, cudaStream_t stream) {
  dispatch_float_type(activation, "apply_rope", [&](auto tag) {
    using T = decltype(tag);
    apply_rope_kernel<T><<<static_cast<unsigned>(rows), kRowThreads, 0, stream>>>(static_cast<T*>(x), heads, head_dim,
                                                                                  offset, row_stride, cos_sin);
  });
  check_launch("apply_rope");
}

void launch_silu_mul(const void* gate_up, int64_t rows, int64_t inter, void* out, ElementType activation,
                     cudaStream_t stream) {
  dispatch_float_type(activation, "silu_mul", [&](auto tag) {
    using T = decltype(tag);
    silu_mul_kernel<T><<<stride_blocks(rows * inter), 256, 0, stream>>>(static_cast<const T*>(gate_up), rows, inter,
                                                                       static_cast<T*>(out));
  });
  check_launch("silu_mul");
}

void launch_add(void* x, const void* y, int64_t n, ElementType activation, cudaStream_t stream) {
  dispatch_float_type(activation, "add", [&](auto tag) {
    using T = decltype(tag);
    add_kernel<T><<<stride_blocks(n), 256, 0, stream>>>(static_cast<T*>(x), static_cast<const T*>(y), n);
  });
  check_launch("add");
}

void launch_add_bias(void* y, int64_t rows, int64_t out, const float* bias, ElementType activation,
                     cudaStream_t stream) {
  dispatch_float_type(activation, "add_bias", [&](auto tag) {
    using T = decltype(tag);
    add_bias_kernel<T><<<stride_blocks(rows * out), 256, 0, stream>>>(static_cast<T*>(y), rows, out, bias);
  });
  check_launch("add_bias");
}

void launch_gather_rows(const DeviceStep& step, int64_t count, const void* x, int64_t dim, void* out,
                        ElementType activation, cudaStream_t stream) {
  if (count == 0) return;
  dispatch_float_type(activation, "gather_logit_rows", [&](auto tag) {
    using T = decltype(tag);
    gather_rows_kernel<T><<<static_cast<unsigned>(count), kRowThreads, 0, stream>>>(step, static_cast<const T*>(x), dim,
                                                                                   static_cast<T*>(out));
  });
  check_launch("gather_logit_rows");
}

}  // namespace sabre::cuda
