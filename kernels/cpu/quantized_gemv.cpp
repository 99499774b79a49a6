#include "kernels/cpu/quantized_gemv.hpp"

#include "kernels/cpu/row_invariant_gemm.hpp"
#include "kernels/float16.hpp"
#include "kernels/quant_blocks.hpp"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define SABRE_QUANTIZED_AVX2 1
#endif

namespace sabre::cpu {
namespace {

uint16_t load_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// IEEE binary16 -> binary32, exactly (F16C's vcvtph2ps where there is one).
float half_to_float(uint16_t h) {
#ifdef SABRE_QUANTIZED_AVX2
  return _cvtsh_ss(h);
#else
  return f16_to_f32(h);
#endif
}

void check_format(ElementType format, int64_t in) {
  if (!is_packed(format) && format != ElementType::bf16 && format != ElementType::f16) {
    throw std::invalid_argument(fmt::format("matrix conversion: weights of {} are not converted to fp32 here",
                                            element_type_name(format)));
  }
  if (in <= 0 || in % weight_block_elements(format) != 0) {
    throw std::invalid_argument(fmt::format("matrix conversion: {} input features is not a positive multiple of {}",
                                            in, weight_block_elements(format)));
  }
}


// A run of 16-bit values to fp32, exactly.
void convert_halves(ElementType format, const std::byte* from, int64_t count, float* out) {
  int64_t i = 0;
#ifdef SABRE_QUANTIZED_AVX2
  for (; i + 8 <= count; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + 2 * i));
    const __m256 f = format == ElementType::bf16
                         ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16))
                         : _mm256_cvtph_ps(h);
    _mm256_storeu_ps(out + i, f);
  }
#endif
  for (; i < count; ++i) {
    const uint16_t h = load_u16(from + 2 * i);
    out[i] = format == ElementType::bf16 ? bf16_to_f32(h) : half_to_float(h);
  }
}

}  // namespace

int64_t weight_block_elements(ElementType format) { return element_block_size(format); }

size_t weight_row_bytes(ElementType format, int64_t in) { return element_bytes(format, in); }

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
  if (format == ElementType::bf16 || format == ElementType::f16) {
    convert_halves(format, weight + static_cast<size_t>(row_begin * in) * 2, (row_end - row_begin) * in, out);
    return;
  }
  const size_t row_bytes = weight_row_bytes(format, in);
  dequantize_blocks(format, weight + static_cast<size_t>(row_begin) * row_bytes,
                    (row_end - row_begin) * (in / element_block_size(format)), out);
}

}  // namespace sabre::cpu
