// GGUF Q8_0 / Q4_1 matrices on the GPU: a fused dequantise-and-multiply GEMV for decode-sized steps
// (the weights stream once, as stored, which is what bounds decode), and a dequantise-rows kernel that
// turns a slice of the matrix into a tile of the activation type for cuBLASLt on longer steps.

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/launch.hpp"

namespace sabre::cuda {
namespace {

constexpr unsigned kGemvWarps = 4;

template <class Block>
__device__ __forceinline__ void decode_block(const Block& b, float (&w)[32]);
template <>
__device__ __forceinline__ void decode_block<Q8_0Block>(const Q8_0Block& b, float (&w)[32]) {
  const float d = __half2float(b.d);
#pragma unroll
  for (int i = 0; i < 32; ++i) w[i] = d * static_cast<float>(b.qs[i]);
}
template <>
__device__ __forceinline__ void decode_block<Q4_1Block>(const Q4_1Block& b, float (&w)[32]) {
  const float d = __half2float(b.d), m = __half2float(b.m);
#pragma unroll
  for (int i = 0; i < 16; ++i) {
    w[i] = static_cast<float>(b.qs[i] & 0x0F) * d + m;
    w[i + 16] = static_cast<float>(b.qs[i] >> 4) * d + m;
  }
}

// One warp per output feature o: lanes take the row's 32-element blocks in turn, each decoding a block
// once for every input row.
template <class T, class Block, class Y, int kRows>
__global__ void quantized_gemv_kernel(const T* x, int64_t rows, const Block* w, int64_t out, int64_t in,
                                      const float* bias, Y* y) {
  const int64_t o = blockIdx.x * static_cast<int64_t>(kGemvWarps) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (o >= out) return;
  const int64_t blocks = in / 32;
  const Block* row = w + o * blocks;
  float sums[kRows] = {};
  for (int64_t b = lane; b < blocks; b += 32) {
    float weights[32];
    decode_block(row[b], weights);
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
      if (r < rows) {
        const T* xs = x + r * in + b * 32;
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < 32; ++i) s += weights[i] * to_float(xs[i]);
        sums[r] += s;
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    if (r < rows) {
      const float total = warp_sum(sums[r]);
      if (lane == 0) y[r * out + o] = from_float<Y>(total + (bias != nullptr ? bias[o] : 0.0f));
    }
  }
}

template <class T, class Block>
__global__ void dequantize_rows_kernel(const Block* w, int64_t first_out, int64_t n, int64_t in, T* tile) {
  const int64_t blocks = in / 32;
  const int64_t total = n * blocks;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = k / blocks, b = k % blocks;
    float weights[32];
    decode_block(w[(first_out + row) * blocks + b], weights);
    T* to = tile + row * in + b * 32;
#pragma unroll
    for (int i = 0; i < 32; ++i) to[i] = from_float<T>(weights[i]);
  }
}

template <class F>
void dispatch_block(ElementType type, F&& f) {
  switch (type) {
    case ElementType::q8_0: f(Q8_0Block{}); return;
    case ElementType::q4_1: f(Q4_1Block{}); return;
    default:
      throw std::invalid_argument("the CUDA backend has no quantised kernel for " +
                                  std::string(element_type_name(type)) + " matrices");
  }
}

}  // namespace

void launch_quantized_gemv(const void* x, int64_t rows, const void* w, ElementType w_type, int64_t out, int64_t in,
                           const float* bias, void* y, ElementType y_type, ElementType activation,
                           cudaStream_t stream) {
  if (rows > kMaxGemvRows) throw std::logic_error("quantized_gemv: more rows than the kernel holds");
  const unsigned grid = static_cast<unsigned>((out + kGemvWarps - 1) / kGemvWarps);
  dispatch_float_type(activation, "quantized_gemv", [&](auto tag) {
    using T = decltype(tag);
    dispatch_block(w_type, [&](auto block_tag) {
      using Block = decltype(block_tag);
      const auto launch = [&](auto y_tag) {
        using Y = decltype(y_tag);
        quantized_gemv_kernel<T, Block, Y, static_cast<int>(kMaxGemvRows)><<<grid, kGemvWarps * 32, 0, stream>>>(
            static_cast<const T*>(x), rows, static_cast<const Block*>(w), out, in, bias, static_cast<Y*>(y));
      };
      if (y_type == ElementType::f32) {
        launch(float{});
      } else if (y_type == activation) {
        launch(T{});
      } else {
        throw std::invalid_argument("quantized_gemv: the output is fp32 or the activation type");
      }
    });
  });
  check_launch("quantized_gemv");
}

void launch_dequantize_rows(const void* w, ElementType w_type, int64_t first_out, int64_t n, int64_t in, void* tile,
                            ElementType activation, cudaStream_t stream) {
  const int64_t total = n * (in / 32);
  const auto grid = static_cast<unsigned>(std::min<int64_t>((total + 255) / 256, 65536));
  dispatch_float_type(activation, "dequantize_rows", [&](auto tag) {
    using T = decltype(tag);
    dispatch_block(w_type, [&](auto block_tag) {
      using Block = decltype(block_tag);
      dequantize_rows_kernel<T, Block><<<grid, 256, 0, stream>>>(static_cast<const Block*>(w), first_out, n, in,
                                                                 static_cast<T*>(tile));
    });
  });
  check_launch("dequantize_rows");
}

}  // namespace sabre::cuda
