#include "kernels/cpu/quantized_gemv.hpp"

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
void dequantize_block(WeightFormat format, const std::byte* block, float* w) {
  if (format == WeightFormat::q8_0) {
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

#ifdef SABRE_QUANTIZED_AVX2
float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Two output rows per pass share every load of x.
void gemv_q8_0_rows(const std::byte* w, size_t row_bytes, int64_t blocks, const float* x, int64_t rows, float* y) {
  int64_t r = 0;
  for (; r + 2 <= rows; r += 2) {
    const std::byte* a = w + static_cast<size_t>(r) * row_bytes;
    const std::byte* b = a + row_bytes;
    __m256 acc_a0 = _mm256_setzero_ps(), acc_a1 = _mm256_setzero_ps();
    __m256 acc_b0 = _mm256_setzero_ps(), acc_b1 = _mm256_setzero_ps();
    for (int64_t k = 0; k < blocks; ++k, a += kQ8_0Bytes, b += kQ8_0Bytes) {
      const __m256 da = _mm256_set1_ps(half_to_float(load_u16(a)));
      const __m256 db = _mm256_set1_ps(half_to_float(load_u16(b)));
      const float* xb = x + k * kBlock;
      for (int g = 0; g < 4; g += 2) {
        const __m256 x0 = _mm256_loadu_ps(xb + 8 * g);
        const __m256 x1 = _mm256_loadu_ps(xb + 8 * g + 8);
        const __m128i qa = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 + 8 * g));
        const __m128i qb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 + 8 * g));
        const __m256 wa0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(qa)), da);
        const __m256 wa1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(qa, 8))), da);
        const __m256 wb0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(qb)), db);
        const __m256 wb1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(qb, 8))), db);
        acc_a0 = _mm256_fmadd_ps(wa0, x0, acc_a0);
        acc_a1 = _mm256_fmadd_ps(wa1, x1, acc_a1);
        acc_b0 = _mm256_fmadd_ps(wb0, x0, acc_b0);
        acc_b1 = _mm256_fmadd_ps(wb1, x1, acc_b1);
      }
    }
    y[r] = horizontal_sum(_mm256_add_ps(acc_a0, acc_a1));
    y[r + 1] = horizontal_sum(_mm256_add_ps(acc_b0, acc_b1));
  }
  for (; r < rows; ++r) {
    const std::byte* a = w + static_cast<size_t>(r) * row_bytes;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (int64_t k = 0; k < blocks; ++k, a += kQ8_0Bytes) {
      const __m256 da = _mm256_set1_ps(half_to_float(load_u16(a)));
      const float* xb = x + k * kBlock;
      for (int g = 0; g < 4; g += 2) {
        const __m128i qa = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 2 + 8 * g));
        const __m256 w0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(qa)), da);
        const __m256 w1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(qa, 8))), da);
        acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xb + 8 * g), acc0);
        acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xb + 8 * g + 8), acc1);
      }
    }
    y[r] = horizontal_sum(_mm256_add_ps(acc0, acc1));
  }
}

// Q4_1's weight q * d + m, computed as gguf_dequant.cpp's expression compiles (see kQ4_1Contracted).
inline __m256 q4_1_weights(__m128i nibbles8, __m256 d, __m256 m) {
  const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(nibbles8));
#ifdef SABRE_Q4_1_FUSED
  return _mm256_fmadd_ps(q, d, m);
#else
  return _mm256_add_ps(_mm256_mul_ps(q, d), m);
#endif
}

void gemv_q4_1_rows(const std::byte* w, size_t row_bytes, int64_t blocks, const float* x, int64_t rows, float* y) {
  const __m128i low_mask = _mm_set1_epi8(0x0F);
  for (int64_t r = 0; r < rows; ++r) {
    const std::byte* a = w + static_cast<size_t>(r) * row_bytes;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
           acc3 = _mm256_setzero_ps();
    for (int64_t k = 0; k < blocks; ++k, a += kQ4_1Bytes) {
      const __m256 d = _mm256_set1_ps(half_to_float(load_u16(a)));
      const __m256 m = _mm256_set1_ps(half_to_float(load_u16(a + 2)));
      const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(a + 4));
      const __m128i low = _mm_and_si128(packed, low_mask);                     // elements 0..15
      const __m128i high = _mm_and_si128(_mm_srli_epi16(packed, 4), low_mask);  // elements 16..31
      const float* xb = x + k * kBlock;
      acc0 = _mm256_fmadd_ps(q4_1_weights(low, d, m), _mm256_loadu_ps(xb), acc0);
      acc1 = _mm256_fmadd_ps(q4_1_weights(_mm_srli_si128(low, 8), d, m), _mm256_loadu_ps(xb + 8), acc1);
      acc2 = _mm256_fmadd_ps(q4_1_weights(high, d, m), _mm256_loadu_ps(xb + 16), acc2);
      acc3 = _mm256_fmadd_ps(q4_1_weights(_mm_srli_si128(high, 8), d, m), _mm256_loadu_ps(xb + 24), acc3);
    }
    y[r] = horizontal_sum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
  }
}
#endif

void check_format(WeightFormat format, int64_t in) {
  if (format != WeightFormat::q8_0 && format != WeightFormat::q4_1) {
    throw std::invalid_argument("quantised matrix product: the weight format is not Q8_0 or Q4_1");
  }
  if (in <= 0 || in % kBlock != 0) {
    throw std::invalid_argument(
        fmt::format("quantised matrix product: {} input features is not a positive multiple of {}", in, kBlock));
  }
}

}  // namespace

int64_t weight_block_elements(WeightFormat format) { return format == WeightFormat::f32 ? 1 : kBlock; }

size_t weight_row_bytes(WeightFormat format, int64_t in) {
  switch (format) {
    case WeightFormat::f32: return static_cast<size_t>(in) * sizeof(float);
    case WeightFormat::q8_0: return static_cast<size_t>(in / kBlock) * kQ8_0Bytes;
    case WeightFormat::q4_1: return static_cast<size_t>(in / kBlock) * kQ4_1Bytes;
  }
  throw std::invalid_argument("weight_row_bytes: unknown weight format");
}

void quantized_gemv(WeightFormat format, const std::byte* weight, int64_t in, const float* x, int64_t row_begin,
                    int64_t row_end, float* y) {
  check_format(format, in);
  const size_t row_bytes = weight_row_bytes(format, in);
  const std::byte* rows = weight + static_cast<size_t>(row_begin) * row_bytes;
#ifdef SABRE_QUANTIZED_AVX2
  if (format == WeightFormat::q8_0) {
    gemv_q8_0_rows(rows, row_bytes, in / kBlock, x, row_end - row_begin, y);
  } else {
    gemv_q4_1_rows(rows, row_bytes, in / kBlock, x, row_end - row_begin, y);
  }
#else
  float w[kBlock];
  for (int64_t r = 0; r < row_end - row_begin; ++r) {
    float lanes[kBlock] = {};
    for (int64_t k = 0; k < in / kBlock; ++k) {
      dequantize_block(format, rows + static_cast<size_t>(r) * row_bytes + static_cast<size_t>(k) * (row_bytes / (in / kBlock)), w);
      for (int64_t j = 0; j < kBlock; ++j) lanes[j] += w[j] * x[k * kBlock + j];
    }
    float sum = 0;
    for (float lane : lanes) sum += lane;
    y[r] = sum;
  }
#endif
}

void f32_gemv(const float* weight, int64_t in, const float* x, int64_t row_begin, int64_t row_end, float* y) {
  int64_t r = row_begin;
#ifdef SABRE_QUANTIZED_AVX2
  // Four rows per pass share each load of x; two accumulators per row hide the FMA latency.
  const int64_t vector_end = in - in % 16;
  for (; r + 4 <= row_end; r += 4) {
    const float* w0 = weight + r * in;
    const float* w1 = w0 + in;
    const float* w2 = w1 + in;
    const float* w3 = w2 + in;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    for (int64_t i = 0; i < vector_end; i += 16) {
      const __m256 x0 = _mm256_loadu_ps(x + i);
      const __m256 x1 = _mm256_loadu_ps(x + i + 8);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), x0, a0);
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i + 8), x1, b0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), x0, a1);
      b1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i + 8), x1, b1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), x0, a2);
      b2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i + 8), x1, b2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), x0, a3);
      b3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i + 8), x1, b3);
    }
    float sums[4] = {horizontal_sum(_mm256_add_ps(a0, b0)), horizontal_sum(_mm256_add_ps(a1, b1)),
                     horizontal_sum(_mm256_add_ps(a2, b2)), horizontal_sum(_mm256_add_ps(a3, b3))};
    for (int64_t i = vector_end; i < in; ++i) {
      sums[0] += w0[i] * x[i];
      sums[1] += w1[i] * x[i];
      sums[2] += w2[i] * x[i];
      sums[3] += w3[i] * x[i];
    }
    for (int k = 0; k < 4; ++k) y[r - row_begin + k] = sums[k];
  }
#endif
  for (; r < row_end; ++r) {
    const float* w = weight + r * in;
    float lanes[16] = {};
    int64_t i = 0;
    for (; i + 16 <= in; i += 16) {
      for (int l = 0; l < 16; ++l) lanes[l] += w[i + l] * x[i + l];
    }
    float sum = 0;
    for (float lane : lanes) sum += lane;
    for (; i < in; ++i) sum += w[i] * x[i];
    y[r - row_begin] = sum;
  }
}

void dequantize_rows(WeightFormat format, const std::byte* weight, int64_t in, int64_t row_begin, int64_t row_end,
                     float* out) {
  check_format(format, in);
  const size_t row_bytes = weight_row_bytes(format, in);
  const size_t block_bytes = row_bytes / static_cast<size_t>(in / kBlock);
  const std::byte* block = weight + static_cast<size_t>(row_begin) * row_bytes;
  const int64_t blocks = (row_end - row_begin) * (in / kBlock);
  for (int64_t k = 0; k < blocks; ++k, block += block_bytes) dequantize_block(format, block, out + k * kBlock);
}

}  // namespace sabre::cpu
