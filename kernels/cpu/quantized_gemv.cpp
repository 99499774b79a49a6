#include "kernels/cpu/quantized_gemv.hpp"

#include "kernels/cpu/row_invariant_gemm.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <cstring>
#include <stdexcept>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define SABRE_QUANTIZED_AVX2 1
#endif

namespace sabre::cpu {
namespace {

constexpr int64_t kBlock = 32;
constexpr size_t kQ8_0Bytes = 2 + 32;      // fp16 scale d, 32 int8: w = q * d
constexpr size_t kQ4_1Bytes = 2 + 2 + 16;  // fp16 scale d, fp16 min m, 32 nibbles: w = q * d + m

uint16_t load_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// IEEE binary16 -> binary32; exact for every input, so it agrees with any correct converter (F16C's
// vcvtph2ps, dtype_convert's f16_to_f32).
float half_to_float(uint16_t h) {
#ifdef SABRE_QUANTIZED_AVX2
  return _cvtsh_ss(h);
#else
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const int exponent = (h >> 10) & 0x1F;
  const uint32_t mantissa = h & 0x3FFu;
  float magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(static_cast<float>(mantissa), -24);
  } else if (exponent == 31) {
    magnitude = mantissa ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    uint32_t bits = (static_cast<uint32_t>(exponent - 15 + 127) << 23) | (mantissa << 13);
    std::memcpy(&magnitude, &bits, 4);
  }
  uint32_t bits;
  std::memcpy(&bits, &magnitude, 4);
  bits |= sign;
  std::memcpy(&magnitude, &bits, 4);
  return magnitude;
#endif
}

// One block's 32 weights, as gguf_dequant.cpp computes them (element order included: Q4_1 keeps
// elements j and j + 16 in the low and high nibble of byte j).
void dequantize_block(ElementType format, const std::byte* block, float* w) {
  if (format == ElementType::q8_0) {
    const float d = half_to_float(load_u16(block));
    const auto* qs = reinterpret_cast<const int8_t*>(block + 2);
    for (int64_t j = 0; j < kBlock; ++j) w[j] = static_cast<float>(qs[j]) * d;
  } else {
    const float d = half_to_float(load_u16(block));
    const float m = half_to_float(load_u16(block + 2));
    const auto* qs = reinterpret_cast<const uint8_t*>(block + 4);
    for (int64_t j = 0; j < kBlock / 2; ++j) {
      w[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
      w[j + kBlock / 2] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

void check_format(ElementType format, int64_t in) {
  if (format != ElementType::q8_0 && format != ElementType::q4_1) {
    throw std::invalid_argument("quantised matrix product: the weight format is not Q8_0 or Q4_1");
  }
  if (in <= 0 || in % kBlock != 0) {
    throw std::invalid_argument(
        fmt::format("quantised matrix product: {} input features is not a positive multiple of {}", in, kBlock));
  }
}

}  // namespace

int64_t weight_block_elements(ElementType format) { return format == ElementType::f32 ? 1 : kBlock; }

size_t weight_row_bytes(ElementType format, int64_t in) {
  switch (format) {
    case ElementType::f32: return static_cast<size_t>(in) * sizeof(float);
    case ElementType::q8_0: return static_cast<size_t>(in / kBlock) * kQ8_0Bytes;
    case ElementType::q4_1: return static_cast<size_t>(in / kBlock) * kQ4_1Bytes;
  }
  throw std::invalid_argument("weight_row_bytes: unknown weight format");
}

void quantized_gemv(ElementType format, const std::byte* weight, int64_t in, const float* x, int64_t row_begin,
                    int64_t row_end, float* y) {
  check_format(format, in);
  // One input row of the row-invariant kernel, so a decode row rounds exactly as it does in a batch.
  row_invariant_gemm(format, weight, in, x, 1, row_begin, row_end, nullptr, y, row_end - row_begin);
}

void f32_gemv(const float* weight, int64_t in, const float* x, int64_t row_begin, int64_t row_end, float* y) {
  row_invariant_gemm(ElementType::f32, weight, in, x, 1, row_begin, row_end, nullptr, y, row_end - row_begin);
}

void dequantize_rows(ElementType format, const std::byte* weight, int64_t in, int64_t row_begin, int64_t row_end,
                     float* out) {
  check_format(format, in);
  const size_t row_bytes = weight_row_bytes(format, in);
  const size_t block_bytes = row_bytes / static_cast<size_t>(in / kBlock);
  const std::byte* block = weight + static_cast<size_t>(row_begin) * row_bytes;
  const int64_t blocks = (row_end - row_begin) * (in / kBlock);
  for (int64_t k = 0; k < blocks; ++k, block += block_bytes) dequantize_block(format, block, out + k * kBlock);
}

}  // namespace sabre::cpu
