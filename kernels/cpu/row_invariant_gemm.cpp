#include "kernels/cpu/row_invariant_gemm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "kernels/cpu/avx2_blocks.hpp"
#include "kernels/cpu/quantized_gemv.hpp"
#include "kernels/quant_blocks.hpp"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define SABRE_ROW_INVARIANT_AVX2 1
#endif

namespace sabre::cpu {
namespace {

constexpr int64_t kQuantBlock = 32;
constexpr size_t kQ8_0Bytes = 2 + 32;      // fp16 scale d, 32 int8: w = q * d
// Elements below in - in % kLanes are summed in vector lanes (element i in lane i % kLanes).
constexpr int64_t kLanes = 8;

// Outputs are processed in blocks whose weights (about this many bytes) stay in L2 while every tile of
// input rows walks them; a block is a whole number of column tiles.
constexpr size_t kOutputBlockBytes = 160 * 1024;

void check_arguments(ElementType format, int64_t in, int64_t rows, int64_t out_begin, int64_t out_end) {
  if (format != ElementType::f32 && format != ElementType::bf16 && format != ElementType::f16 && !is_packed(format)) {
    throw std::invalid_argument(
        fmt::format("row_invariant_gemm: weights of {} are not supported", element_type_name(format)));
  }
  if (in <= 0 || in % element_block_size(format) != 0) {
    throw std::invalid_argument(fmt::format(
        "row_invariant_gemm: {} input features for a {} matrix is not a positive multiple of {}", in,
        element_type_name(format), element_block_size(format)));
  }
  if (rows < 0 || out_begin < 0 || out_end < out_begin) {
    throw std::invalid_argument(fmt::format("row_invariant_gemm: bad ranges (rows {}, outputs [{}, {}))", rows,
                                            out_begin, out_end));
  }
}

#ifdef SABRE_ROW_INVARIANT_AVX2

uint16_t load_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Weight sources: how a row of W is walked in steps, and how the 8-weight groups of a step are formed.
// A step is kGroups groups of 8 consecutive elements, each multiplied into the accumulator in turn.

struct F32Source {
  static constexpr int kGroups = 1;
  static constexpr int64_t kStep = 8;
  const float* weight;
  int64_t in;

  using Row = const float*;
  using Step = const float*;
  Row row(int64_t o) const { return weight + o * in; }
  static Step step(Row row, int64_t k) { return row + k * kStep; }
  static __m256 group(const Step& s, int g) { return _mm256_loadu_ps(s + 8 * g); }
  // The leftover elements past the vector span, one fused multiply-add each, in order.
  float tail(Row row, const float* x, float sum) const {
    for (int64_t i = in - in % kLanes; i < in; ++i) sum = std::fma(row[i], x[i], sum);
    return sum;
  }
  size_t row_bytes() const { return static_cast<size_t>(in) * sizeof(float); }
};

// bf16 and f16 rows: 8 elements per group, converted exactly, so the values multiplied are the fp32 ones
// an f32 copy of the matrix would hold (and the results the same bits). The leftover elements past a
// multiple of 8 are converted one by one.
template <bool kBf16>
struct HalfSource {
  static constexpr int kGroups = 1;
  static constexpr int64_t kStep = 8;
  const std::byte* weight;
  int64_t in;

  using Row = const std::byte*;
  using Step = const std::byte*;
  Row row(int64_t o) const { return weight + static_cast<size_t>(o) * row_bytes(); }
  static Step step(Row row, int64_t k) { return row + k * kStep * 2; }
  static __m256 group(const Step& s, int) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    if constexpr (kBf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
  }
  static float element(Row row, int64_t i) {
    const uint16_t h = load_u16(row + 2 * i);
    if constexpr (kBf16) {
      const uint32_t bits = static_cast<uint32_t>(h) << 16;
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
    return _cvtsh_ss(h);
  }
  float tail(Row row, const float* x, float sum) const {
    for (int64_t i = in - in % kLanes; i < in; ++i) sum = std::fma(element(row, i), x[i], sum);
    return sum;
  }
  size_t row_bytes() const { return static_cast<size_t>(in) * 2; }
};
using Bf16Source = HalfSource<true>;
using F16Source = HalfSource<false>;

struct Q8_0Source {
  static constexpr int kGroups = 4;
  static constexpr int64_t kStep = kQuantBlock;
  const std::byte* blocks;
  int64_t in;

  using Row = const std::byte*;
  struct Step {
    __m256 d;
    const int8_t* q;
  };
  Row row(int64_t o) const { return blocks + static_cast<size_t>(o) * row_bytes(); }
  static Step step(Row row, int64_t k) {
    const std::byte* block = row + static_cast<size_t>(k) * kQ8_0Bytes;
    return {_mm256_set1_ps(_cvtsh_ss(load_u16(block))), reinterpret_cast<const int8_t*>(block + 2)};
  }
  // q * d, as kernels/quant_blocks.cpp computes it (the int8 -> float conversion is exact).
  static __m256 group(const Step& s, int g) {
    const __m128i q8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s.q + 8 * g));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q8)), s.d);
  }
  float tail(Row, const float*, float sum) const { return sum; }
  size_t row_bytes() const { return static_cast<size_t>(in / kQuantBlock) * kQ8_0Bytes; }
};

// The 32-element formats whose values are small integers times a scale (plus a minimum for Q4_1 and
// Q5_1): a step unpacks its block's 32 integers into one vector of bytes, in element order, with AVX2;
// each group of 8 widens them to floats and multiplies (and adds) as kernels/quant_blocks.cpp does,
// element by element (the integer-to-float conversion is exact, then one rounded product, then one
// rounded sum).
enum class SmallIntFormat { q4_0, q4_1, q5_0, q5_1, iq4_nl };

template <SmallIntFormat kFormat>
struct SmallIntSource {
  static constexpr int kGroups = 4;
  static constexpr int64_t kStep = kQuantBlock;
  const std::byte* blocks;
  int64_t in;

  using Row = const std::byte*;
  struct Step {
    __m256 d, m;
    __m256i q;  // the block's 32 integers as int8, in element order
  };
  static constexpr size_t block_bytes() {
    switch (kFormat) {
      case SmallIntFormat::q4_0: return 2 + 16;
      case SmallIntFormat::q4_1: return 2 + 2 + 16;
      case SmallIntFormat::q5_0: return 2 + 4 + 16;
      case SmallIntFormat::q5_1: return 2 + 2 + 4 + 16;
      case SmallIntFormat::iq4_nl: return 2 + 16;
    }
    return 0;
  }
  Row row(int64_t o) const { return blocks + static_cast<size_t>(o) * row_bytes(); }
  static Step step(Row row, int64_t k) {
    const std::byte* block = row + static_cast<size_t>(k) * block_bytes();
    Step s;
    s.d = _mm256_set1_ps(_cvtsh_ss(load_u16(block)));
    s.m = _mm256_setzero_ps();
    if constexpr (kFormat == SmallIntFormat::q4_0) {
      s.q = _mm256_sub_epi8(unpack_nibbles(block + 2), _mm256_set1_epi8(8));
    } else if constexpr (kFormat == SmallIntFormat::q4_1) {
      s.m = _mm256_set1_ps(_cvtsh_ss(load_u16(block + 2)));
      s.q = unpack_nibbles(block + 4);
    } else if constexpr (kFormat == SmallIntFormat::q5_0) {
      s.q = _mm256_sub_epi8(_mm256_or_si256(unpack_nibbles(block + 6), fifth_bits(block + 2)), _mm256_set1_epi8(16));
    } else if constexpr (kFormat == SmallIntFormat::q5_1) {
      s.m = _mm256_set1_ps(_cvtsh_ss(load_u16(block + 2)));
      s.q = _mm256_or_si256(unpack_nibbles(block + 8), fifth_bits(block + 4));
    } else {
      s.q = iq4_nl_levels(unpack_nibbles(block + 2));
    }
    return s;
  }
  static __m256 group(const Step& s, int g) {
    const __m128i half = g < 2 ? _mm256_castsi256_si128(s.q) : _mm256_extracti128_si256(s.q, 1);
    const __m128i eight = (g & 1) ? _mm_srli_si128(half, 8) : half;
    const __m256 q = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(eight));
    // With a minimum (Q4_1, Q5_1): a rounded product, then a rounded sum (the project builds with
    // -std=c++20, where GCC does not contract the decoder's q * d + m into a fused multiply-add).
    if constexpr (kFormat == SmallIntFormat::q4_1 || kFormat == SmallIntFormat::q5_1) {
      return _mm256_add_ps(_mm256_mul_ps(q, s.d), s.m);
    }
    // IQ4_NL's decoder multiplies d by the level (d * level), the others the integer by d: the same
    // product either way.
    return _mm256_mul_ps(q, s.d);
  }
  float tail(Row, const float*, float sum) const { return sum; }
  size_t row_bytes() const { return static_cast<size_t>(in / kQuantBlock) * block_bytes(); }
};

// The blocks quantised safetensors checkpoints are repacked into (kernels/checkpoint_blocks.hpp): an fp32
// scale, a zero point (not for fp8_s), then 32 elements. A group widens 8 of them to int32, subtracts the
// zero point (exact) and multiplies by the scale: the decoder's one rounded product. FP8 codes shifted
// into binary16's fields are their value times 2^-8 (subnormals included), so F16C and an exact * 256
// widen them; the loader refuses FP8's NaN codes, the one place where this and the decoder would differ.
template <ElementType kFormat>
struct CheckpointBlockSource {
  static constexpr int kGroups = 4;
  static constexpr int64_t kStep = kQuantBlock;
  static constexpr bool kHasZero = kFormat != ElementType::fp8_s;
  const std::byte* blocks;
  int64_t in;

  using Row = const std::byte*;
  struct Step {
    __m256 d;
    __m256i zero;     // q8_z: the zero point in each int32 lane
    __m256i centred;  // q4_z: the block's 32 nibbles minus the zero point, as int8 in element order
    const std::byte* q;
  };
  static constexpr size_t block_bytes() { return element_block_bytes(kFormat); }
  Row row(int64_t o) const { return blocks + static_cast<size_t>(o) * row_bytes(); }
  static Step step(Row row, int64_t k) {
    const std::byte* block = row + static_cast<size_t>(k) * block_bytes();
    Step s;
    float d;
    std::memcpy(&d, block, 4);
    s.d = _mm256_set1_ps(d);
    s.q = block + (kHasZero ? 5 : 4);
    if constexpr (kFormat == ElementType::q4_z) {
      // Nibble minus a zero point of at most 16 stays within int8.
      s.centred = _mm256_sub_epi8(unpack_nibbles(s.q), _mm256_set1_epi8(static_cast<char>(block[4])));
    } else if constexpr (kFormat == ElementType::q8_z) {
      s.zero = _mm256_set1_epi32(static_cast<int>(block[4]));
    }
    return s;
  }
  static __m256 group(const Step& s, int g) {
    if constexpr (kFormat == ElementType::q4_z) {
      const __m128i half = g < 2 ? _mm256_castsi256_si128(s.centred) : _mm256_extracti128_si256(s.centred, 1);
      const __m128i eight = (g & 1) ? _mm_srli_si128(half, 8) : half;
      return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(eight)), s.d);
    } else if constexpr (kFormat == ElementType::fp8_s) {
      const __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s.q + 8 * g)));
      const __m128i half = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x80)), 8),
                                        _mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x7F)), 7));
      return _mm256_mul_ps(_mm256_mul_ps(_mm256_cvtph_ps(half), _mm256_set1_ps(256.0f)), s.d);
    } else {
      const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(s.q + 8 * g));
      const __m256i q = _mm256_sub_epi32(_mm256_cvtepu8_epi32(bytes), s.zero);
      return _mm256_mul_ps(_mm256_cvtepi32_ps(q), s.d);
    }
  }
  float tail(Row, const float*, float sum) const { return sum; }
  size_t row_bytes() const { return static_cast<size_t>(in / kQuantBlock) * block_bytes(); }
};

// Any other block format (the K-quants, IQ4_XS): each step decodes one block of the row with
// its kernels/quant_blocks.hpp decoder, so the values are the loader's fp32 ones exactly, then feeds them
// 8 at a time. Reads the stored bits once per row tile, as the in-register formats do; the decoding is
// scalar.
template <int64_t kBlockElements>
struct DecodedBlockSource {
  static constexpr int kGroups = static_cast<int>(kBlockElements / 8);
  static constexpr int64_t kStep = kBlockElements;
  const std::byte* blocks;
  int64_t in;
  BlockDecoder decode;
  size_t block_bytes;

  using Row = const std::byte*;
  struct Step {
    alignas(32) float w[kBlockElements];
  };
  Row row(int64_t o) const { return blocks + static_cast<size_t>(o) * row_bytes(); }
  Step step(Row row, int64_t k) const {
    Step s;
    decode(row + static_cast<size_t>(k) * block_bytes, s.w);
    return s;
  }
  static __m256 group(const Step& s, int g) { return _mm256_load_ps(s.w + 8 * g); }
  float tail(Row, const float*, float sum) const { return sum; }
  size_t row_bytes() const { return static_cast<size_t>(in / kBlockElements) * block_bytes; }
};

template <int64_t kBlockElements>
DecodedBlockSource<kBlockElements> decoded_source(ElementType format, const std::byte* blocks, int64_t in) {
  return {blocks, in, block_decoder(format), element_block_bytes(format)};
}

// One register tile: rows [0, R) of x against outputs [o, o + C), one 8-lane accumulator per element.
// Every accumulator sees the same sequence of fused multiply-adds whatever R and C are, so the tile
// shape never shows in the result.
template <int R, int C, class Source>
void tile(const Source& src, int64_t o, const float* x, int64_t in, const float* bias, float* y,
          int64_t y_stride) {
  typename Source::Row rows[C];
  for (int c = 0; c < C; ++c) rows[c] = src.row(o + c);
  const int64_t steps = (in - in % kLanes) / Source::kStep;
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  // A few rows (decode) stream each weight once: the tile after next is fetched a share per step, since
  // C interleaved row streams are not what the hardware prefetcher follows. The values are untouched.
  constexpr bool kPrefetch = R <= 4;
  const uintptr_t ahead = reinterpret_cast<uintptr_t>(rows[0]) + 2 * C * src.row_bytes();
  const size_t ahead_step = steps > 0 ? C * src.row_bytes() / static_cast<size_t>(steps) : 0;
  for (int64_t k = 0; k < steps; ++k) {
    if constexpr (kPrefetch) prefetch_range(ahead + k * ahead_step, ahead + (k + 1) * ahead_step);
    typename Source::Step step[C];
    for (int c = 0; c < C; ++c) step[c] = src.step(rows[c], k);
    const float* xk = x + k * Source::kStep;
    for (int g = 0; g < Source::kGroups; ++g) {
      __m256 w[C];
      for (int c = 0; c < C; ++c) w[c] = Source::group(step[c], g);
      for (int r = 0; r < R; ++r) {
        __m256 xv = _mm256_loadu_ps(xk + r * in + 8 * g);
        // Keep x in a register for the C multiply-adds: GCC otherwise folds the load into each of them,
        // and the loads, not the FMAs, become the limit (14 loads per 12 FMAs for 6 x 2).
        __asm__("" : "+x"(xv));
        for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(w[c], xv, acc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      float sum = src.tail(rows[c], x + r * in, horizontal_sum(acc[r][c]));
      if (bias) sum += bias[o + c];
      y[r * y_stride + c] = sum;
    }
  }
}

// Tile shapes, measured on the development machine (AMD EPYC, AVX2) for 512 rows of the SmolLM2-135M
// shapes: 6 rows x 2 columns (12 accumulators; each weight group feeds 6 rows, each x load 2
// columns) beat 4 x 3, 3 x 4 and 2 x 6. One row (decode) takes 4 columns at a time: 4 weight rows
// streamed side by side and 4 independent accumulator chains.
constexpr int kTileRows = 6;
constexpr int kTileColumns = 2;
constexpr int kSingleRowColumns = 4;

// Column tiles as wide as keeps R * C accumulators within twelve of the sixteen vector registers.
template <int R>
constexpr int columns_for_rows() {
  return R >= kTileRows ? kTileColumns : R == 1 ? kSingleRowColumns : std::min(4, 12 / R);
}

template <int R, class Source>
void row_tile(const Source& src, int64_t out_begin, int64_t out_end, const float* x, int64_t in, const float* bias,
              float* y, int64_t y_stride) {
  constexpr int C = columns_for_rows<R>();
  int64_t o = out_begin;
  for (; o + C <= out_end; o += C) tile<R, C>(src, o, x, in, bias, y + (o - out_begin), y_stride);
  for (; o < out_end; ++o) tile<R, 1>(src, o, x, in, bias, y + (o - out_begin), y_stride);
}

// From this many rows on, quantised weights are dequantised into fp32 panels first (see below); fewer
// rows (decode) dequantise in registers, which reads the weights once at 4.5-8.5 bits each.
constexpr int64_t kPanelMinRows = 12;

// Row tiles of kTileRows over outputs [out_begin, out_end), then the leftover rows as one smaller tile.
template <class Source>
void row_tiles(const Source& src, const float* x, int64_t rows, int64_t out_begin, int64_t out_end,
               const float* bias, float* y, int64_t y_stride) {
  const int64_t in = src.in;
  int64_t r = 0;
  for (; r + kTileRows <= rows; r += kTileRows) {
    row_tile<kTileRows>(src, out_begin, out_end, x + r * in, in, bias, y + r * y_stride, y_stride);
  }
  const float* xr = x + r * in;
  float* yr = y + r * y_stride;
  static_assert(kTileRows <= 6, "the switch below covers tails of up to 5 rows");
  switch (rows - r) {
    case 0: break;
    case 1: row_tile<1>(src, out_begin, out_end, xr, in, bias, yr, y_stride); break;
    case 2: row_tile<2>(src, out_begin, out_end, xr, in, bias, yr, y_stride); break;
    case 3: row_tile<3>(src, out_begin, out_end, xr, in, bias, yr, y_stride); break;
    case 4: row_tile<4>(src, out_begin, out_end, xr, in, bias, yr, y_stride); break;
    case 5: row_tile<5>(src, out_begin, out_end, xr, in, bias, yr, y_stride); break;
    default: throw std::logic_error("row_invariant_gemm: row tail longer than a tile");
  }
}

// Outputs in blocks whose weights stay in L2 while every row tile walks them.
template <class Source>
void gemm(const Source& src, const float* x, int64_t rows, int64_t out_begin, int64_t out_end, const float* bias,
          float* y, int64_t y_stride) {
  const int64_t block = std::max<int64_t>(12, static_cast<int64_t>(kOutputBlockBytes / src.row_bytes()) / 12 * 12);
  for (int64_t ob = out_begin; ob < out_end; ob += block) {
    row_tiles(src, x, rows, ob, std::min(out_end, ob + block), bias, y + (ob - out_begin), y_stride);
  }
}

// Many rows of a W that is not fp32 (quantised or 16-bit): each block of W's rows is converted once into
// an fp32 panel (with dequantize_rows, whose values are exactly the in-register conversion's) and
// multiplied by the fp32 tiles, so the conversion is shared by all rows instead of one row tile. Same
// values, same fused multiply-adds in the same order: the same bits as the fused kernel.
void quantized_gemm_through_panels(ElementType format, const std::byte* blocks, int64_t in, const float* x,
                                   int64_t rows, int64_t out_begin, int64_t out_end, const float* bias, float* y,
                                   int64_t y_stride) {
  thread_local std::vector<float> panel;
  const int64_t block =
      std::max<int64_t>(12, static_cast<int64_t>(kOutputBlockBytes / (in * sizeof(float))) / 12 * 12);
  panel.resize(static_cast<size_t>(block * in));
  for (int64_t ob = out_begin; ob < out_end; ob += block) {
    const int64_t oe = std::min(out_end, ob + block);
    dequantize_rows(format, blocks, in, ob, oe, panel.data());
    // The panel's row 0 is W's row ob: index outputs from ob, bias included.
    row_tiles(F32Source{panel.data(), in}, x, rows, 0, oe - ob, bias ? bias + ob : nullptr, y + (ob - out_begin),
              y_stride);
  }
}

#else  // portable fallback: the same element arithmetic, one dot product at a time

// The AVX2 reduction tree written out on 8 lanes: lanes l + l+4, then (0 + 2) + (1 + 3).
float reduce_lanes(const float (&lanes)[kLanes]) {
  const float s0 = lanes[0] + lanes[4], s1 = lanes[1] + lanes[5], s2 = lanes[2] + lanes[6], s3 = lanes[3] + lanes[7];
  return (s0 + s2) + (s1 + s3);
}

float dot(const float* w, const float* x, int64_t in) {
  float lanes[kLanes] = {};
  const int64_t vector_end = in - in % kLanes;
  for (int64_t i = 0; i < vector_end; ++i) lanes[i % kLanes] = std::fma(w[i], x[i], lanes[i % kLanes]);
  float sum = reduce_lanes(lanes);
  for (int64_t i = vector_end; i < in; ++i) sum = std::fma(w[i], x[i], sum);
  return sum;
}

#endif

}  // namespace

void row_invariant_gemm(ElementType format, const void* weight, int64_t in, const float* x, int64_t rows,
                        int64_t out_begin, int64_t out_end, const float* bias, float* y, int64_t y_stride) {
  check_arguments(format, in, rows, out_begin, out_end);
  if (rows == 0 || out_end == out_begin) return;
#ifdef SABRE_ROW_INVARIANT_AVX2
  const auto* stored = static_cast<const std::byte*>(weight);
  // A matrix that is not fp32: converted in registers for a few rows, through shared fp32 panels for
  // many (the same values either way, so the same bits).
  const auto converted = [&](auto source) {
    if (rows >= kPanelMinRows) {
      quantized_gemm_through_panels(format, stored, in, x, rows, out_begin, out_end, bias, y, y_stride);
    } else {
      gemm(source, x, rows, out_begin, out_end, bias, y, y_stride);
    }
  };
  switch (format) {
    case ElementType::f32:
      gemm(F32Source{static_cast<const float*>(weight), in}, x, rows, out_begin, out_end, bias, y, y_stride);
      break;
    case ElementType::bf16: converted(Bf16Source{stored, in}); break;
    case ElementType::f16: converted(F16Source{stored, in}); break;
    case ElementType::q8_0: converted(Q8_0Source{stored, in}); break;
    case ElementType::q4_1: converted(SmallIntSource<SmallIntFormat::q4_1>{stored, in}); break;
    case ElementType::q4_0: converted(SmallIntSource<SmallIntFormat::q4_0>{stored, in}); break;
    case ElementType::q5_0: converted(SmallIntSource<SmallIntFormat::q5_0>{stored, in}); break;
    case ElementType::q5_1: converted(SmallIntSource<SmallIntFormat::q5_1>{stored, in}); break;
    case ElementType::iq4_nl: converted(SmallIntSource<SmallIntFormat::iq4_nl>{stored, in}); break;
    case ElementType::q4_z: converted(CheckpointBlockSource<ElementType::q4_z>{stored, in}); break;
    case ElementType::q8_z: converted(CheckpointBlockSource<ElementType::q8_z>{stored, in}); break;
    case ElementType::fp8_s: converted(CheckpointBlockSource<ElementType::fp8_s>{stored, in}); break;
    default:  // the other block formats (check_arguments refused the rest)
      if (element_block_size(format) == 32) {
        converted(decoded_source<32>(format, stored, in));
      } else {
        converted(decoded_source<256>(format, stored, in));
      }
  }
#else
  // Dequantised with dequantize_rows, whose values are gguf_dequant.cpp's.
  thread_local std::vector<float> dequantised;
  for (int64_t o = out_begin; o < out_end; ++o) {
    const float* w = nullptr;
    if (format == ElementType::f32) {
      w = static_cast<const float*>(weight) + o * in;
    } else {
      dequantised.resize(static_cast<size_t>(in));
      dequantize_rows(format, static_cast<const std::byte*>(weight), in, o, o + 1, dequantised.data());
      w = dequantised.data();
    }
    for (int64_t r = 0; r < rows; ++r) {
      float sum = dot(w, x + r * in, in);
      if (bias) sum += bias[o];
      y[r * y_stride + (o - out_begin)] = sum;
    }
  }
#endif
}

void row_invariant_gemm(const LinearWeight& w, const float* x, int64_t rows, int64_t out_begin, int64_t out_end,
                        float* y, int64_t y_stride) {
  row_invariant_gemm(w.type, w.weight, w.in_features, x, rows, out_begin, out_end, w.bias, y, y_stride);
}

}  // namespace sabre::cpu
