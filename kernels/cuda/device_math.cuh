#pragma once
// What the CUDA kernels share: the activation types as template parameters (float, bf16, half) and their
// conversions, the ElementType dispatch that picks a template instantiation at run time, the cache's
// 8-bit codes, GGUF block decoding, and warp / block reductions.

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/element_type.hpp"

namespace sabre::cuda {

// ---- activation types ----
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }

template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}

// Calls f(T{}) with T the C++ type of an activation ElementType (f32, bf16, f16).
template <class F>
void dispatch_float_type(sabre::ElementType type, const char* what, F&& f) {
  switch (type) {
    case sabre::ElementType::f32: f(float{}); return;
    case sabre::ElementType::bf16: f(__nv_bfloat16{}); return;
    case sabre::ElementType::f16: f(__half{}); return;
    default:
      // (No fmt in code nvcc compiles: its consteval format strings do not get through.)
      throw std::invalid_argument(std::string(what) + ": the CUDA backend has no kernel for " +
                                  std::string(sabre::element_type_name(type)) + " activations");
  }
}

// ---- the 8-bit KV codes (kernels/cpu/kv_store.hpp's encoding: a scale per slot and kv head) ----
__device__ __forceinline__ uint8_t float_to_e4m3(float v) {
  return static_cast<uint8_t>(__nv_cvt_float_to_fp8(v, __NV_SATFINITE, __NV_E4M3));
}
__device__ __forceinline__ float e4m3_to_float(uint8_t bits) {
  const __half_raw h = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(bits), __NV_E4M3);
  return __half2float(__half(h));
}

// ---- GGUF blocks of 32 ----
struct Q8_0Block {
  __half d;
  int8_t qs[32];
};
struct Q4_1Block {
  __half d;
  __half m;
  uint8_t qs[16];  // element j in the low nibble of qs[j], element j + 16 in the high one
};
static_assert(sizeof(Q8_0Block) == 34 && sizeof(Q4_1Block) == 20);

__device__ __forceinline__ float q8_0_value(const Q8_0Block& b, int i) {
  return __half2float(b.d) * static_cast<float>(b.qs[i]);
}
__device__ __forceinline__ float q4_1_value(const Q4_1Block& b, int i) {
  const int q = i < 16 ? (b.qs[i] & 0x0F) : (b.qs[i - 16] >> 4);
  return static_cast<float>(q) * __half2float(b.d) + __half2float(b.m);
}

// Element i of a row of `type` (f32, bf16, f16, q8_0, q4_1) as float.
__device__ __forceinline__ float load_element(const void* row, sabre::ElementType type, int64_t i) {
  switch (type) {
    case sabre::ElementType::f32: return static_cast<const float*>(row)[i];
    case sabre::ElementType::bf16: return __bfloat162float(static_cast<const __nv_bfloat16*>(row)[i]);
    case sabre::ElementType::f16: return __half2float(static_cast<const __half*>(row)[i]);
    case sabre::ElementType::q8_0: return q8_0_value(static_cast<const Q8_0Block*>(row)[i / 32], static_cast<int>(i % 32));
    case sabre::ElementType::q4_1: return q4_1_value(static_cast<const Q4_1Block*>(row)[i / 32], static_cast<int>(i % 32));
    default: return 0.0f;
  }
}

// ---- reductions ----
__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xFFFFFFFFu, v, offset);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v = fmaxf(v, __shfl_xor_sync(0xFFFFFFFFu, v, offset));
  return v;
}

// The sum over the block (blockDim.x a multiple of 32, at most 1024), returned to every thread.
// `scratch` holds 32 floats of shared memory; the call ends with the block synchronised.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float total = lane < warps ? scratch[lane] : 0.0f;
  total = warp_sum(total);
  return total;
}

inline unsigned blocks_for(int64_t n, unsigned threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

}  // namespace sabre::cuda
