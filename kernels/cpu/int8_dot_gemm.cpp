#include "kernels/cpu/int8_dot_gemm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/cpu/avx2_blocks.hpp"
#include "kernels/float16.hpp"
#include "kernels/quant_blocks.hpp"

namespace sabre::cpu {
namespace {

constexpr int64_t kBlock = 32;

float load_f16(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

float load_f32(const std::byte* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

#if defined(__AVX2__)

// One weight block as 32 signed bytes in element order with its scale and minimum: w = d * s + m.
struct WeightBlock {
  __m256i s;
  float d;
  float m;
};

WeightBlock load_block(ElementType format, const std::byte* b) {
  switch (format) {
    case ElementType::q8_0:
      return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)), load_f16(b), 0.0f};
    case ElementType::q4_0:
      return {_mm256_sub_epi8(unpack_nibbles(b + 2), _mm256_set1_epi8(8)), load_f16(b), 0.0f};
    case ElementType::q4_1:
      return {unpack_nibbles(b + 4), load_f16(b), load_f16(b + 2)};
    case ElementType::q5_0:
      return {_mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(b + 6), fifth_bits(b + 2)), _mm256_set1_epi8(16)),
              load_f16(b), 0.0f};
    case ElementType::q5_1:
      return {_mm256_or_si256(unpack_nibbles(b + 8), fifth_bits(b + 4)), load_f16(b), load_f16(b + 2)};
    case ElementType::iq4_nl:
      return {iq4_nl_levels(unpack_nibbles(b + 2)), load_f16(b), 0.0f};
    case ElementType::q4_z: {
      // Nibble minus a zero point of at most 16: within int8.
      const float d = load_f32(b);
      return {_mm256_sub_epi8(unpack_nibbles(b + 5), _mm256_set1_epi8(static_cast<char>(b[4]))), d, 0.0f};
    }
    case ElementType::q8_z: {
      // d * (q - z) = d * (q - 128) - d * (z - 128): q - 128 is the byte with its top bit flipped.
      const float d = load_f32(b);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 5));
      return {_mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))), d,
              -d * static_cast<float>(static_cast<int>(b[4]) - 128)};
    }
    default:
      throw std::logic_error("int8_dot_gemm: unsupported format");
  }
}

bool has_minimum(ElementType format) {
  return format == ElementType::q4_1 || format == ElementType::q5_1 || format == ElementType::q8_z;
}

// sum(w * x) over 32 int8 pairs as 8 int32 lanes: |w| times x with w's sign (maddubs multiplies
// unsigned by signed; |w| <= 128 and |x| <= 127 keep each pair sum within int16).
inline __m256i dot_i8(__m256i w, __m256i x) {
  const __m256i products = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
  return _mm256_madd_epi16(products, _mm256_set1_epi16(1));
}

inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Up to this many rows share each weight block's unpacking.
constexpr int64_t kRowTile = 8;

template <bool kMinimum>
void gemm_rows(ElementType format, const std::byte* weight, const QuantizedActivations& x, int64_t r0, int64_t rn,
               int64_t out_begin, int64_t out_end, const float* bias, float* y, int64_t y_stride) {
  const int64_t blocks = x.in / kBlock;
  const size_t block_bytes = element_block_bytes(format);
  const size_t row_bytes = static_cast<size_t>(blocks) * block_bytes;
  for (int64_t o = out_begin; o < out_end; ++o) {
    const std::byte* row = weight + static_cast<size_t>(o) * row_bytes;
    __m256 acc[kRowTile];
    float minimum[kRowTile] = {};
    for (int64_t r = 0; r < rn; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t k = 0; k < blocks; ++k) {
      const WeightBlock w = load_block(format, row + static_cast<size_t>(k) * block_bytes);
      for (int64_t r = 0; r < rn; ++r) {
        const size_t at = static_cast<size_t>((r0 + r) * blocks + k);
        const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x.values.data() + at * kBlock));
        const __m256 sums = _mm256_cvtepi32_ps(dot_i8(w.s, xq));
        acc[r] = _mm256_fmadd_ps(sums, _mm256_set1_ps(w.d * x.scales[at]), acc[r]);
        if constexpr (kMinimum) minimum[r] = std::fma(w.m, x.sums[at], minimum[r]);
      }
    }
    for (int64_t r = 0; r < rn; ++r) {
      float sum = horizontal_sum(acc[r]) + minimum[r];
      if (bias) sum += bias[o];
      y[(r0 + r) * y_stride + (o - out_begin)] = sum;
    }
  }
}

#endif

}  // namespace

bool int8_dot_supports(ElementType format) {
#if defined(__AVX2__)
  switch (format) {
    case ElementType::q8_0:
    case ElementType::q4_0:
    case ElementType::q4_1:
    case ElementType::q5_0:
    case ElementType::q5_1:
    case ElementType::iq4_nl:
    case ElementType::q4_z:
    case ElementType::q8_z: return true;
    default: return false;
  }
#else
  (void)format;
  return false;
#endif
}

void quantize_activations(const float* x, int64_t rows, int64_t in, QuantizedActivations& out) {
  if (in % kBlock != 0) throw std::invalid_argument(fmt::format("quantize_activations: {} inputs are not blocks of 32", in));
  const int64_t blocks = in / kBlock;
  out.rows = rows;
  out.in = in;
  out.values.resize(static_cast<size_t>(rows * in));
  out.scales.resize(static_cast<size_t>(rows * blocks));
  out.sums.resize(out.scales.size());
  for (int64_t b = 0; b < rows * blocks; ++b) {
    const float* v = x + b * kBlock;
    float amax = 0.0f;
    for (int64_t i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(v[i]));
    const float d = amax / 127.0f;
    const float inverse = d > 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    int8_t* q = out.values.data() + b * kBlock;
    for (int64_t i = 0; i < kBlock; ++i) {
      q[i] = static_cast<int8_t>(std::lrintf(v[i] * inverse));
      sum += q[i];
    }
    out.scales[static_cast<size_t>(b)] = d;
    out.sums[static_cast<size_t>(b)] = d * static_cast<float>(sum);
  }
}

void int8_dot_gemm(ElementType format, const std::byte* weight, const QuantizedActivations& x, int64_t out_begin,
                   int64_t out_end, const float* bias, float* y, int64_t y_stride) {
  if (!int8_dot_supports(format)) {
    throw std::invalid_argument(fmt::format("int8_dot_gemm: {} weights are not read by this path", element_type_name(format)));
  }
#if defined(__AVX2__)
  for (int64_t r0 = 0; r0 < x.rows; r0 += kRowTile) {
    const int64_t rn = std::min(kRowTile, x.rows - r0);
    if (has_minimum(format)) {
      gemm_rows<true>(format, weight, x, r0, rn, out_begin, out_end, bias, y, y_stride);
    } else {
      gemm_rows<false>(format, weight, x, r0, rn, out_begin, out_end, bias, y, y_stride);
    }
  }
#else
  (void)weight, (void)x, (void)out_begin, (void)out_end, (void)bias, (void)y, (void)y_stride;
#endif
}

double int8_dot_error_bound(ElementType format, const std::byte* weight, int64_t in, int64_t o,
                            const QuantizedActivations& x, int64_t r) {
  const int64_t blocks = in / kBlock;
  std::vector<float> w(static_cast<size_t>(in));
  dequantize_blocks(format, weight + static_cast<size_t>(o * blocks) * element_block_bytes(format), blocks, w.data());
  double bound = 0;
  for (int64_t i = 0; i < in; ++i) {
    bound += std::fabs(static_cast<double>(w[static_cast<size_t>(i)])) * x.scales[static_cast<size_t>(r * blocks + i / kBlock)] / 2;
  }
  return bound;
}

}  // namespace sabre::cpu
