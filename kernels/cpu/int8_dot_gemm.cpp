#include "kernels/cpu/int8_dot_gemm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "kernels/cpu/avx2_blocks.hpp"
#include "kernels/quant_blocks.hpp"

namespace sabre::cpu {
namespace {

// The run of inputs each activation scale and each weight scale covers.
constexpr int64_t kBlock = element_block_size(ElementType::q8_0);

float load_f32(const std::byte* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

#if defined(__AVX2__) && defined(__F16C__)

inline float load_f16(const std::byte* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// The integers of one weight block, 32 bytes in element order (w = d * s + m for the block's scale d
// and minimum m, which load_scales reads). Q3_K and Q6_K scale their two halves of 16 apart: `halves`
// holds those integer scales as 16-bit pair weights (8 lanes each), which the dot product folds in.
struct BlockValues {
  __m256i s;
  __m256i halves;
};

inline __m256i low_or_high_nibbles(__m256i bytes, bool high) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  return high ? _mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask) : _mm256_and_si256(bytes, mask);
}

// Bits [shift, shift + width) of each byte, moved to bits 4.. of the byte.
inline __m256i bits_to_high(__m256i bytes, int shift, int width) {
  const __m256i field = _mm256_and_si256(_mm256_srli_epi16(bytes, shift), _mm256_set1_epi8((1 << width) - 1));
  return _mm256_slli_epi16(field, 4);
}

// The formats read in 256-element super-blocks, as 8 runs of 32.
constexpr bool has_super_blocks(ElementType format) { return element_block_size(format) == 256; }

// The formats whose 16-element halves carry their own integer scales (BlockValues::halves).
constexpr bool scales_halves(ElementType format) { return format == ElementType::q3_k || format == ElementType::q6_k; }


// Where run k's block starts: its own block, or the super-block holding it.
template <ElementType kFormat>
inline const std::byte* block_of(const std::byte* row, int64_t k, size_t block_bytes) {
  if constexpr (has_super_blocks(kFormat)) {
    return row + static_cast<size_t>(k / 8) * block_bytes;
  } else {
    return row + static_cast<size_t>(k) * block_bytes;
  }
}

// Block k (the k-th run of 32 inputs) of a row of `kFormat`, whose blocks take `block_bytes`: GGUF's
// 32-element blocks one by one, the 256-element K-quant super-blocks as 8 runs of 32 (layouts as
// kernels/quant_blocks.cpp decodes them).
template <ElementType kFormat>
[[gnu::always_inline]] inline BlockValues load_values(const std::byte* row, int64_t k, size_t block_bytes) {
  const std::byte* b = block_of<kFormat>(row, k, block_bytes);
  const int j = static_cast<int>(k % 8);  // the run inside a super-block
  const __m256i none = _mm256_setzero_si256();
  if constexpr (kFormat == ElementType::iq4_xs) {
    // d, scales_h, scales_l, then 16 bytes of IQ4_NL nibbles per run.
    return {iq4_nl_levels(unpack_nibbles(b + 8 + 16 * j)), none};
  } else if constexpr (kFormat == ElementType::q3_k) {
    // hmask[32], qs[64], scales[12], d: halves of 128 elements, each four runs of 32. Run j takes bits
    // 2(j % 4) of qs' 32 bytes of its half and bit j of hmask (clear: 4 less), so values -4..3.
    const int half = j / 4, run = j % 4;
    const __m256i qs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32 + 32 * half));
    const __m256i low = _mm256_and_si256(_mm256_srli_epi16(qs, 2 * run), _mm256_set1_epi8(3));
    const __m256i hmask = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
    const __m256i high = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hmask, j), _mm256_set1_epi8(1)), 2);
    const __m256i q = _mm256_sub_epi8(_mm256_or_si256(low, high), _mm256_set1_epi8(4));
    const auto* packed = reinterpret_cast<const uint8_t*>(b + 96);
    return {q, _mm256_set_m128i(_mm_set1_epi16(static_cast<int16_t>(q3_k_scale(2 * j + 1, packed))),
                                _mm_set1_epi16(static_cast<int16_t>(q3_k_scale(2 * j, packed))))};
  } else if constexpr (kFormat == ElementType::q6_k) {
    // ql[128], qh[64], int8 scales[16], d: halves of 128 elements, each four runs of 32.
    const int half = j / 4, run = j % 4;
    const std::byte* ql = b + 64 * half + 32 * (run & 1);
    const __m256i low = low_or_high_nibbles(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql)), run >= 2);
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * half));
    const __m256i q = _mm256_sub_epi8(_mm256_or_si256(low, bits_to_high(qh, 2 * run, 2)), _mm256_set1_epi8(32));
    const auto* scales = reinterpret_cast<const int8_t*>(b + 192 + 8 * half + 2 * run);
    return {q, _mm256_set_m128i(_mm_set1_epi16(scales[1]), _mm_set1_epi16(scales[0]))};
  } else if constexpr (kFormat == ElementType::q4_k || kFormat == ElementType::q5_k) {
    // d, dmin, scales[12], (Q5_K: qh[32],) qs[128]: each 32 bytes of qs hold runs 2i (low nibbles), 2i+1.
    const std::byte* qs = b + (kFormat == ElementType::q5_k ? 48 : 16) + 32 * (j / 2);
    __m256i q = low_or_high_nibbles(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs)), (j & 1) != 0);
    if constexpr (kFormat == ElementType::q5_k) {
      q = _mm256_or_si256(q, bits_to_high(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16)), j, 1));
    }
    return {q, none};
  } else {
    switch (kFormat) {
      case ElementType::q8_0: return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)), none};
      // Q4_0 and Q5_0 stay unsigned, their offsets (8, 16) moved into the minimum (load_scales): the
      // products then need no sign moved onto x, as for Q4_1.
      case ElementType::q4_0: return {unpack_nibbles(b + 2), none};
      case ElementType::q4_1: return {unpack_nibbles(b + 4), none};
      case ElementType::q5_0: return {_mm256_or_si256(unpack_nibbles(b + 6), fifth_bits(b + 2)), none};
      case ElementType::q5_1: return {_mm256_or_si256(unpack_nibbles(b + 8), fifth_bits(b + 4)), none};
      case ElementType::iq4_nl: return {iq4_nl_levels(unpack_nibbles(b + 2)), none};
      case ElementType::q4_z:
        // Nibble minus a zero point of at most 16: within int8.
        return {_mm256_sub_epi8(unpack_nibbles(b + 5), _mm256_set1_epi8(static_cast<char>(b[4]))), none};
      case ElementType::q8_z:
        // q - 128 is the byte with its top bit flipped (load_scales moves the zero point into m).
        return {_mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 5)),
                                 _mm256_set1_epi8(static_cast<char>(0x80))),
                none};
      default: throw std::logic_error("int8_dot_gemm: unsupported format");
    }
  }
}

// Block k's scale and minimum for 4 rows, lane i for rows[i].
struct BlockScales {
  __m128 d;
  __m128 m;
};

// The formats whose block starts with an fp16 scale (and, for some, an fp16 minimum after it).
constexpr bool fp16_scale_first(ElementType format) {
  return format == ElementType::q8_0 || format == ElementType::q4_0 || format == ElementType::q4_1 ||
         format == ElementType::q5_0 || format == ElementType::q5_1 || format == ElementType::iq4_nl;
}

template <ElementType kFormat>
[[gnu::always_inline]] inline BlockScales load_scales(const std::byte* const* rows, int64_t k, size_t block_bytes) {
  const std::byte* b[4];
  for (int i = 0; i < 4; ++i) b[i] = block_of<kFormat>(rows[i], k, block_bytes);
  if constexpr (fp16_scale_first(kFormat)) {
    // Each block's first 4 bytes (d and, where there is one, m) converted together: 8 halves to 8 floats,
    // then the d's to the low lanes and the m's to the high ones.
    int32_t words[4];
    for (int i = 0; i < 4; ++i) std::memcpy(&words[i], b[i], 4);
    const __m256 both = _mm256_permutevar8x32_ps(
        _mm256_cvtph_ps(_mm_setr_epi32(words[0], words[1], words[2], words[3])), _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
    const __m128 d = _mm256_castps256_ps128(both);
    if constexpr (kFormat == ElementType::q4_0) return {d, _mm_mul_ps(d, _mm_set1_ps(-8.0f))};
    if constexpr (kFormat == ElementType::q5_0) return {d, _mm_mul_ps(d, _mm_set1_ps(-16.0f))};
    return {d, _mm256_extractf128_ps(both, 1)};
  } else {
    static_assert(kFormat == ElementType::q4_z || kFormat == ElementType::q8_z,
                  "the super-block formats read their scales through SuperBlockScales");
    float d[4], m[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; ++i) {
      d[i] = load_f32(b[i]);
      // q8_z: d * (q - z) = d * (q - 128) - d * (z - 128).
      if constexpr (kFormat == ElementType::q8_z) m[i] = -d[i] * static_cast<float>(static_cast<int>(b[i][4]) - 128);
    }
    return {_mm_loadu_ps(d), _mm_loadu_ps(m)};
  }
}

// The scales and minima of the 8 runs of a 256-element super-block for 4 rows, worked out once when the
// super-block starts rather than for every run: the K-quants pack them in 6 bits behind fp16 factors.
template <ElementType kFormat>
struct SuperBlockScales {
  alignas(16) float d[8][4];
  alignas(16) float m[8][4] = {};  // zero for the formats without a minimum

  // Each row's fp16 factors are converted once per super-block; Q3_K's and Q6_K's single d serves all
  // their runs (their integer scales are in BlockValues::halves).
  void load(const std::byte* const* rows, int64_t k, size_t block_bytes) {
    for (int i = 0; i < 4; ++i) {
      const std::byte* b = block_of<kFormat>(rows[i], k, block_bytes);
      if constexpr (scales_halves(kFormat)) {
        const float scale = load_f16(b + (kFormat == ElementType::q6_k ? 208 : 108));
        for (int j = 0; j < 8; ++j) d[j][i] = scale;
      } else if constexpr (kFormat == ElementType::iq4_xs) {
        const float scale = load_f16(b);
        const auto* block = reinterpret_cast<const uint8_t*>(b);
        for (int j = 0; j < 8; ++j) d[j][i] = scale * static_cast<float>(iq4_xs_scale(j, block));
      } else {
        const float scale = load_f16(b), minimum = load_f16(b + 2);
        for (int j = 0; j < 8; ++j) {
          const KGroupScale group = k_group_scale(j, scale, minimum, reinterpret_cast<const uint8_t*>(b + 4));
          d[j][i] = group.scale;
          m[j][i] = -group.min;
        }
      }
    }
  }
  BlockScales run(int64_t k) const { return {_mm_load_ps(d[k % 8]), _mm_load_ps(m[k % 8])}; }
};

// The 32-element formats read each block's scales as it comes (load_scales) and keep none.
struct NoSuperBlocks {};

template <ElementType kFormat>
using ScalesOf = std::conditional_t<has_super_blocks(kFormat), SuperBlockScales<kFormat>, NoSuperBlocks>;

constexpr bool has_minimum(ElementType format) {
  return format == ElementType::q4_0 || format == ElementType::q4_1 || format == ElementType::q5_0 ||
         format == ElementType::q5_1 || format == ElementType::q8_z || format == ElementType::q4_k ||
         format == ElementType::q5_k;
}

// The formats whose block integers are read as never negative (nibbles with a minimum or an offset).
constexpr bool unsigned_integers(ElementType format) {
  return format == ElementType::q4_0 || format == ElementType::q4_1 || format == ElementType::q5_0 ||
         format == ElementType::q5_1 || format == ElementType::q4_k || format == ElementType::q5_k;
}

// A weight block as maddubs wants its unsigned operand: signed integers go in as |w| and their signs move
// onto x (sign_for), so |w| <= 128 and |x| <= 127 keep each pair's sum within int16; unsigned ones (at
// most 31) go in as they are.
template <ElementType kFormat>
inline __m256i unsigned_operand(__m256i w) {
  if constexpr (unsigned_integers(kFormat)) {
    return w;
  } else {
    return _mm256_sign_epi8(w, w);
  }
}

// sum(w * x) over 32 int8 pairs as 8 int32 lanes (lanes 0-3: elements 0-15); `magnitude` is
// unsigned_operand(w). Q3_K and Q6_K weigh their two halves by their integer scales here.
template <ElementType kFormat>
[[gnu::always_inline]] inline __m256i dot_i8(const BlockValues& w, __m256i magnitude, __m256i x) {
  const __m256i signed_x = unsigned_integers(kFormat) ? x : _mm256_sign_epi8(x, w.s);
  const __m256i products = _mm256_maddubs_epi16(magnitude, signed_x);
  if constexpr (scales_halves(kFormat)) {
    return _mm256_madd_epi16(products, w.halves);
  } else {
    return _mm256_madd_epi16(products, _mm256_set1_epi16(1));
  }
}

// The sums of four vectors of 8 int32 lanes, lane i for vector i: a fixed tree (pairs, then pairs of
// pairs, then the two 128-bit halves), whichever rows the vectors came from.
inline __m128i sum_lanes_of_four(__m256i a, __m256i b, __m256i c, __m256i d) {
  // A 4x4 transpose within each 128-bit half by unpacks (one uop each; hadd is several), adding as it goes.
  const __m256i ab = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
  const __m256i cd = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
  const __m256i quads = _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
  return _mm_add_epi32(_mm256_castsi256_si128(quads), _mm256_extracti128_si256(quads, 1));
}

// Up to this many activation rows share each weight block's unpacking.
constexpr int64_t kRowTile = 4;
// Weight rows (outputs) computed together, one per lane of a 128-bit vector.
constexpr int64_t kOutputTile = 4;

// Activation rows r0 .. r0 + R - 1 against outputs [out_begin, out_end), four outputs at a time (a tail
// of fewer repeats its last output in the spare lanes and drops them). Every (row, output) element's
// integer dot products go through the same reduction tree per block, then per block in block order one
// multiply-add for the scaled sum and one for the minimum term, and the bias last: the same arithmetic
// whatever R is and whichever outputs share its tile.
template <ElementType kFormat, int R>
void gemm_rows(const std::byte* weight, const QuantizedActivations& x, int64_t r0, int64_t out_begin,
               int64_t out_end, const float* bias, float* y, int64_t y_stride) {
  constexpr bool kMinimum = has_minimum(kFormat);
  const int64_t blocks = x.in / kBlock;
  const size_t row_bytes = element_bytes(kFormat, x.in);
  const size_t block_bytes = element_block_bytes(kFormat);
  const int8_t* xq[R];
  const float* xd[R];
  const float* xs[R];
  for (int r = 0; r < R; ++r) {
    xq[r] = x.values.data() + (r0 + r) * x.in;
    xd[r] = x.scales.data() + (r0 + r) * blocks;
    xs[r] = x.sums.data() + (r0 + r) * blocks;
  }
  for (int64_t o = out_begin; o < out_end; o += kOutputTile) {
    const int64_t outputs = std::min(kOutputTile, out_end - o);
    const std::byte* rows[kOutputTile];
    for (int i = 0; i < kOutputTile; ++i) {
      rows[i] = weight + static_cast<size_t>(o + std::min<int64_t>(i, outputs - 1)) * row_bytes;
    }
    __m128 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm_setzero_ps();
    ScalesOf<kFormat> super_block;
    // The tiles' rows are contiguous: while this one is read, the one after next is fetched, a tile's share
    // of it per block, so the loads below find their lines in cache instead of waiting on memory.
    const auto ahead = reinterpret_cast<uintptr_t>(rows[0] + 2 * kOutputTile * row_bytes);
    const size_t ahead_step = kOutputTile * row_bytes / static_cast<size_t>(blocks);
    for (int64_t k = 0; k < blocks; ++k) {
      prefetch_range(ahead + k * ahead_step, ahead + (k + 1) * ahead_step);
      BlockScales scales;
      if constexpr (has_super_blocks(kFormat)) {
        if (k % 8 == 0) super_block.load(rows, k, block_bytes);
        scales = super_block.run(k);
      } else {
        scales = load_scales<kFormat>(rows, k, block_bytes);
      }
      const auto accumulate = [&](int r, __m128i sums) {
        acc[r] = _mm_fmadd_ps(_mm_cvtepi32_ps(sums), _mm_mul_ps(scales.d, _mm_set1_ps(xd[r][k])), acc[r]);
        if constexpr (kMinimum) acc[r] = _mm_fmadd_ps(scales.m, _mm_set1_ps(xs[r][k]), acc[r]);
      };
      if constexpr (R == 1) {
        // Each weight block multiplied as soon as it is loaded, so only its products stay live (holding
        // all four blocks ran Q6_K out of registers and put the accumulator on the stack).
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[0] + k * kBlock));
        __m256i dots[kOutputTile];
        for (int i = 0; i < kOutputTile; ++i) {
          const BlockValues w = load_values<kFormat>(rows[i], k, block_bytes);
          dots[i] = dot_i8<kFormat>(w, unsigned_operand<kFormat>(w.s), q);
        }
        accumulate(0, sum_lanes_of_four(dots[0], dots[1], dots[2], dots[3]));
      } else {
        // Several activation rows share each block's unpacking.
        BlockValues w[kOutputTile];
        __m256i magnitude[kOutputTile];
        for (int i = 0; i < kOutputTile; ++i) {
          w[i] = load_values<kFormat>(rows[i], k, block_bytes);
          magnitude[i] = unsigned_operand<kFormat>(w[i].s);
        }
        for (int r = 0; r < R; ++r) {
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq[r] + k * kBlock));
          accumulate(r, sum_lanes_of_four(dot_i8<kFormat>(w[0], magnitude[0], q), dot_i8<kFormat>(w[1], magnitude[1], q),
                                          dot_i8<kFormat>(w[2], magnitude[2], q), dot_i8<kFormat>(w[3], magnitude[3], q)));
        }
      }
    }
    for (int r = 0; r < R; ++r) {
      alignas(16) float sums[kOutputTile];
      _mm_store_ps(sums, acc[r]);
      for (int64_t i = 0; i < outputs; ++i) {
        y[(r0 + r) * y_stride + (o + i - out_begin)] = bias ? sums[i] + bias[o + i] : sums[i];
      }
    }
  }
}

template <ElementType kFormat>
void gemm(const std::byte* weight, const QuantizedActivations& x, int64_t out_begin, int64_t out_end,
          const float* bias, float* y, int64_t y_stride) {
  int64_t r0 = 0;
  for (; r0 + kRowTile <= x.rows; r0 += kRowTile) {
    gemm_rows<kFormat, kRowTile>(weight, x, r0, out_begin, out_end, bias, y, y_stride);
  }
  switch (x.rows - r0) {
    case 1: gemm_rows<kFormat, 1>(weight, x, r0, out_begin, out_end, bias, y, y_stride); break;
    case 2: gemm_rows<kFormat, 2>(weight, x, r0, out_begin, out_end, bias, y, y_stride); break;
    case 3: gemm_rows<kFormat, 3>(weight, x, r0, out_begin, out_end, bias, y, y_stride); break;
    default: break;
  }
  static_assert(kRowTile == 4, "the switch above covers the tails of a 4-row tile");
}

// The formats this path reads, once: int8_dot_supports asks the list, int8_dot_gemm dispatches through it.
template <ElementType... kFormats>
struct FormatList {
  static bool contains(ElementType format) { return ((format == kFormats) || ...); }
  // Calls run.template operator()<format>() for the listed format equal to `format`.
  template <class Run>
  static void dispatch(ElementType format, const Run& run) {
    ((format == kFormats && (run.template operator()<kFormats>(), true)) || ...);
  }
};
using Int8Formats =
    FormatList<ElementType::q8_0, ElementType::q4_0, ElementType::q4_1, ElementType::q5_0, ElementType::q5_1,
               ElementType::iq4_nl, ElementType::q3_k, ElementType::q4_k, ElementType::q5_k, ElementType::q6_k,
               ElementType::iq4_xs, ElementType::q4_z, ElementType::q8_z>;

#endif

}  // namespace

bool int8_dot_supports(ElementType format) {
#if defined(__AVX2__) && defined(__F16C__)
  return Int8Formats::contains(format);
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
    int8_t* q = out.values.data() + b * kBlock;
#if defined(__AVX2__)
    // As the scalar loop below: the largest magnitude, then x / d rounded to nearest even.
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 lanes[4];
    __m256 amax8 = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      lanes[i] = _mm256_loadu_ps(v + 8 * i);
      amax8 = _mm256_max_ps(amax8, _mm256_andnot_ps(sign, lanes[i]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127.0f;
    const __m256 inverse = _mm256_set1_ps(d > 0.0f ? 1.0f / d : 0.0f);
    __m256i ints[4];
    for (int i = 0; i < 4; ++i) ints[i] = _mm256_cvtps_epi32(_mm256_mul_ps(lanes[i], inverse));
    const __m256i total = _mm256_add_epi32(_mm256_add_epi32(ints[0], ints[1]), _mm256_add_epi32(ints[2], ints[3]));
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
    const int sum = _mm_cvtsi128_si32(t);
    // int32 -> int16 -> int8 packs interleave 128-bit lanes; the permute puts the 32 values back in order.
    const __m256i words = _mm256_packs_epi32(ints[0], ints[1]);
    const __m256i words2 = _mm256_packs_epi32(ints[2], ints[3]);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(words, words2),
                                                      _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), bytes);
#else
    float amax = 0.0f;
    for (int64_t i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(v[i]));
    const float d = amax / 127.0f;
    const float inverse = d > 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int64_t i = 0; i < kBlock; ++i) {
      q[i] = static_cast<int8_t>(std::lrintf(v[i] * inverse));
      sum += q[i];
    }
#endif
    out.scales[static_cast<size_t>(b)] = d;
    out.sums[static_cast<size_t>(b)] = d * static_cast<float>(sum);
  }
}

void int8_dot_gemm(ElementType format, const std::byte* weight, const QuantizedActivations& x, int64_t out_begin,
                   int64_t out_end, const float* bias, float* y, int64_t y_stride) {
  if (!int8_dot_supports(format)) {
    throw std::invalid_argument(fmt::format("int8_dot_gemm: {} weights are not read by this path", element_type_name(format)));
  }
#if defined(__AVX2__) && defined(__F16C__)
  Int8Formats::dispatch(format, [&]<ElementType kFormat>() {
    gemm<kFormat>(weight, x, out_begin, out_end, bias, y, y_stride);
  });
#else
  (void)weight, (void)x, (void)out_begin, (void)out_end, (void)bias, (void)y, (void)y_stride;
#endif
}

double int8_dot_error_bound(ElementType format, const std::byte* weight, int64_t in, int64_t o,
                            const QuantizedActivations& x, int64_t r) {
  const int64_t blocks = in / kBlock;
  std::vector<float> w(static_cast<size_t>(in));
  dequantize_blocks(format, weight + static_cast<size_t>(o) * element_bytes(format, in),
                    in / element_block_size(format), w.data());
  double bound = 0;
  for (int64_t i = 0; i < in; ++i) {
    bound += std::fabs(static_cast<double>(w[static_cast<size_t>(i)])) * x.scales[static_cast<size_t>(r * blocks + i / kBlock)] / 2;
  }
  return bound;
}

}  // namespace sabre::cpu
