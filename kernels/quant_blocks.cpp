#include "kernels/quant_blocks.hpp"

#include "kernels/checkpoint_blocks.hpp"
#include "kernels/float16.hpp"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

#if defined(__AVX2__)
#include <immintrin.h>
#define SABRE_QUANT_BLOCKS_AVX2 1
#endif

namespace sabre {
namespace {


constexpr size_t kQK = 32;     // elements per block of the legacy formats
constexpr size_t kQK_K = 256;  // elements per K-quant super-block

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

float load_half(const uint8_t* p) { return f16_to_f32(load_u16(p)); }

void dequant_q4_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const uint8_t* qs = b + 2;
  for (size_t j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
    y[j + kQK / 2] = static_cast<float>((qs[j] >> 4) - 8) * d;
  }
}

void dequant_q4_1(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float m = load_half(b + 2);
  const uint8_t* qs = b + 4;
  for (size_t j = 0; j < kQK / 2; ++j) {
    y[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
    y[j + kQK / 2] = static_cast<float>(qs[j] >> 4) * d + m;
  }
}

// Q5: the fifth bit of element j lives in bit j of a 32-bit mask stored after the scales.
void dequant_q5_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const uint8_t* qs = b + 6;
  for (size_t j = 0; j < kQK / 2; ++j) {
    const int high0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int high1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
    y[j] = static_cast<float>(((qs[j] & 0x0F) | high0) - 16) * d;
    y[j + kQK / 2] = static_cast<float>(((qs[j] >> 4) | high1) - 16) * d;
  }
}

void dequant_q5_1(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float m = load_half(b + 2);
  uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  const uint8_t* qs = b + 8;
  for (size_t j = 0; j < kQK / 2; ++j) {
    const int high0 = static_cast<int>((qh >> j) & 1u) << 4;
    const int high1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
    y[j] = static_cast<float>((qs[j] & 0x0F) | high0) * d + m;
    y[j + kQK / 2] = static_cast<float>((qs[j] >> 4) | high1) * d + m;
  }
}

void dequant_q8_0(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const auto* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (size_t j = 0; j < kQK; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

// Q2_K: 16 groups of 16; each group has a 4-bit scale and a 4-bit min (low / high nibble), both
// multiplied by the super-block's d / dmin. Layout: scales[16], qs[64], d, dmin.
void dequant_q2_k(const uint8_t* b, float* y) {
  const uint8_t* scales = b;
  const uint8_t* q = b + 16;
  const float d = load_half(b + 16 + 64);
  const float dmin = load_half(b + 16 + 64 + 2);
  size_t group = 0;
  for (size_t half = 0; half < kQK_K; half += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (size_t part = 0; part < 2; ++part) {
        const uint8_t sc = scales[group++];
        const float dl = d * static_cast<float>(sc & 0x0F);
        const float ml = dmin * static_cast<float>(sc >> 4);
        const uint8_t* qp = q + part * 16;
        for (size_t l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((qp[l] >> shift) & 3) - ml;
      }
    }
    q += 32;
  }
}

// Q3_K: 2 low bits in qs, the third in hmask (set means no -4 offset), and sixteen 6-bit signed scales
// packed into 12 bytes. Layout: hmask[32], qs[64], scales[12], d.
void dequant_q3_k(const uint8_t* b, float* y) {
  const uint8_t* hmask = b;
  const uint8_t* q = b + 32;
  const uint8_t* packed = b + 32 + 64;
  const float d = load_half(b + 32 + 64 + 12);

  int scales[16];
  for (int i = 0; i < 16; ++i) scales[i] = q3_k_scale(i, packed);

  size_t group = 0;
  uint8_t bit = 1;
  for (size_t half = 0; half < kQK_K; half += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (size_t part = 0; part < 2; ++part) {
        const float dl = d * static_cast<float>(scales[group++]);
        const uint8_t* qp = q + part * 16;
        const uint8_t* hp = hmask + part * 16;
        for (size_t l = 0; l < 16; ++l) {
          const int low = (qp[l] >> shift) & 3;
          const int value = low - ((hp[l] & bit) ? 0 : 4);
          *y++ = dl * static_cast<float>(value);
        }
      }
      bit = static_cast<uint8_t>(bit << 1);
    }
    q += 32;
  }
}


// Q4_K: 8 groups of 32. Layout: d, dmin, scales[12], qs[128]; each 32-byte run of qs holds two groups
// (low nibbles first).
void dequant_q4_k_scalar(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float dmin = load_half(b + 2);
  const uint8_t* packed = b + 4;
  const uint8_t* q = b + 16;
  for (int pair = 0; pair < 4; ++pair) {
    const KGroupScale low = k_group_scale(2 * pair, d, dmin, packed);
    const KGroupScale high = k_group_scale(2 * pair + 1, d, dmin, packed);
    for (size_t l = 0; l < 32; ++l) *y++ = low.scale * static_cast<float>(q[l] & 0x0F) - low.min;
    for (size_t l = 0; l < 32; ++l) *y++ = high.scale * static_cast<float>(q[l] >> 4) - high.min;
    q += 32;
  }
}

// Q5_K: Q4_K plus a fifth bit per element in qh[32] (bit 2*pair for the low group, 2*pair+1 for the high).
// Layout: d, dmin, scales[12], qh[32], qs[128].
void dequant_q5_k_scalar(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float dmin = load_half(b + 2);
  const uint8_t* packed = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* q = b + 48;
  for (int pair = 0; pair < 4; ++pair) {
    const KGroupScale low = k_group_scale(2 * pair, d, dmin, packed);
    const KGroupScale high = k_group_scale(2 * pair + 1, d, dmin, packed);
    const uint8_t low_bit = static_cast<uint8_t>(1u << (2 * pair));
    const uint8_t high_bit = static_cast<uint8_t>(1u << (2 * pair + 1));
    for (size_t l = 0; l < 32; ++l) {
      *y++ = low.scale * static_cast<float>((q[l] & 0x0F) + ((qh[l] & low_bit) ? 16 : 0)) - low.min;
    }
    for (size_t l = 0; l < 32; ++l) {
      *y++ = high.scale * static_cast<float>((q[l] >> 4) + ((qh[l] & high_bit) ? 16 : 0)) - high.min;
    }
    q += 32;
  }
}

// Q6_K: 16 groups of 16 with int8 scales; 4 low bits in ql[128], 2 high bits in qh[64].
// Layout: ql[128], qh[64], scales[16], d. Each 128-element half interleaves four 32-element runs.
void dequant_q6_k_scalar(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 128 + 64);
  const float d = load_half(b + 128 + 64 + 16);
  for (size_t half = 0; half < kQK_K; half += 128) {
    for (size_t l = 0; l < 32; ++l) {
      const size_t is = l / 16;
      const int q1 = ((ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
      y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
      y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
      y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

#ifdef SABRE_QUANT_BLOCKS_AVX2
// The same values with AVX2: 32 integers at a time, widened to floats 8 at a time, then the scalar
// decoders' own expression (one rounded product, one rounded difference), so the results are equal bit
// for bit (GCC does not contract separate intrinsics into fused multiply-adds).

// 32 bytes holding integers in [-128, 127] as floats into y[0..32): elements 0..15 times `low_scale`,
// 16..31 times `high_scale`, minus `offset` when `subtract`.
inline void store_scaled(__m256i q, __m256 low_scale, __m256 high_scale, __m256 offset, bool subtract, float* y) {
  const __m128i halves[2] = {_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)};
  for (int h = 0; h < 2; ++h) {
    const __m256 scale = h == 0 ? low_scale : high_scale;
    for (int part = 0; part < 2; ++part) {
      const __m128i eight = part ? _mm_srli_si128(halves[h], 8) : halves[h];
      __m256 v = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(eight)));
      if (subtract) v = _mm256_sub_ps(v, offset);
      _mm256_storeu_ps(y + 16 * h + 8 * part, v);
    }
  }
}

void dequant_q4_k(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float dmin = load_half(b + 2);
  const uint8_t* packed = b + 4;
  const uint8_t* q = b + 16;
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  for (int pair = 0; pair < 4; ++pair) {
    const KGroupScale low = k_group_scale(2 * pair, d, dmin, packed);
    const KGroupScale high = k_group_scale(2 * pair + 1, d, dmin, packed);
    const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
    const __m256 s1 = _mm256_set1_ps(low.scale), s2 = _mm256_set1_ps(high.scale);
    store_scaled(_mm256_and_si256(bytes, low_mask), s1, s1, _mm256_set1_ps(low.min), true, y);
    store_scaled(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_mask), s2, s2, _mm256_set1_ps(high.min), true, y + 32);
    y += 64;
    q += 32;
  }
}

void dequant_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const auto* sc = reinterpret_cast<const int8_t*>(b + 128 + 64);
  const float d = load_half(b + 128 + 64 + 16);
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i two_bits = _mm256_set1_epi8(3);
  const __m256i bias = _mm256_set1_epi8(32);
  for (size_t half = 0; half < kQK_K; half += 128) {
    const __m256i low = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
    const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
    const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
    // Element l of each 32-run: 4 bits from ql, 2 from qh, minus 32 (as the scalar decoder's q1..q4).
    const auto run = [&](__m256i nibbles, int shift) {
      const __m256i top = _mm256_and_si256(_mm256_srli_epi16(bits, shift), two_bits);
      return _mm256_sub_epi8(_mm256_or_si256(nibbles, _mm256_slli_epi16(top, 4)), bias);
    };
    const __m256i runs[4] = {run(_mm256_and_si256(low, low_mask), 0), run(_mm256_and_si256(high, low_mask), 2),
                             run(_mm256_and_si256(_mm256_srli_epi16(low, 4), low_mask), 4),
                             run(_mm256_and_si256(_mm256_srli_epi16(high, 4), low_mask), 6)};
    // Elements 0..15 of run r take scale sc[2r], 16..31 sc[2r + 1]: the scalar decoder's (d * sc) * q.
    for (int r = 0; r < 4; ++r) {
      const __m256 first = _mm256_set1_ps(d * static_cast<float>(sc[2 * r]));
      const __m256 second = _mm256_set1_ps(d * static_cast<float>(sc[2 * r + 1]));
      store_scaled(runs[r], first, second, _mm256_setzero_ps(), false, y + 32 * r);
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}
void dequant_q5_k(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float dmin = load_half(b + 2);
  const uint8_t* packed = b + 4;
  const __m256i fifth = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
  const uint8_t* q = b + 48;
  const __m256i low_mask = _mm256_set1_epi8(0x0F);
  const __m256i sixteen = _mm256_set1_epi8(16);
  // 16 in each byte whose qh bit `bit` is set.
  const auto high_bit = [&](int bit) {
    const __m256i mask = _mm256_set1_epi8(static_cast<char>(1u << bit));
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(fifth, mask), mask), sixteen);
  };
  for (int pair = 0; pair < 4; ++pair) {
    const KGroupScale low = k_group_scale(2 * pair, d, dmin, packed);
    const KGroupScale high = k_group_scale(2 * pair + 1, d, dmin, packed);
    const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
    const __m256 s1 = _mm256_set1_ps(low.scale), s2 = _mm256_set1_ps(high.scale);
    // Values up to 31: int8 holds them.
    store_scaled(_mm256_add_epi8(_mm256_and_si256(bytes, low_mask), high_bit(2 * pair)), s1, s1, _mm256_set1_ps(low.min),
                 true, y);
    store_scaled(_mm256_add_epi8(_mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_mask), high_bit(2 * pair + 1)), s2,
                 s2, _mm256_set1_ps(high.min), true, y + 32);
    y += 64;
    q += 32;
  }
}
#else
void dequant_q4_k(const uint8_t* b, float* y) { dequant_q4_k_scalar(b, y); }
void dequant_q5_k(const uint8_t* b, float* y) { dequant_q5_k_scalar(b, y); }
void dequant_q6_k(const uint8_t* b, float* y) { dequant_q6_k_scalar(b, y); }
#endif

// IQ4_NL and IQ4_XS: each nibble indexes a fixed table of 16 levels spaced for a bell-shaped weight
// distribution (denser near zero), scaled per block (IQ4_NL) or per 32-element group (IQ4_XS).
constexpr int8_t kIq4Levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// IQ4_NL: d, qs[16]; element j in the low nibble of byte j, element j + 16 in its high nibble.
void dequant_iq4_nl(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const uint8_t* qs = b + 2;
  for (size_t j = 0; j < kQK / 2; ++j) {
    y[j] = d * static_cast<float>(kIq4Levels[qs[j] & 0x0F]);
    y[j + kQK / 2] = d * static_cast<float>(kIq4Levels[qs[j] >> 4]);
  }
}

// IQ4_XS: d, scales_h (2 high bits of each group's 6-bit scale), scales_l[4] (the low 4 bits, two groups
// per byte), qs[128]; 8 groups of 32 laid out as IQ4_NL blocks, scale (ls - 32) * d.
void dequant_iq4_xs_scalar(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const uint8_t* qs = b + 8;
  for (int group = 0; group < 8; ++group) {
    const float dl = d * static_cast<float>(iq4_xs_scale(group, b));
    for (size_t j = 0; j < 16; ++j) {
      y[j] = dl * static_cast<float>(kIq4Levels[qs[j] & 0x0F]);
      y[j + 16] = dl * static_cast<float>(kIq4Levels[qs[j] >> 4]);
    }
    y += 32;
    qs += 16;
  }
}

#ifdef SABRE_QUANT_BLOCKS_AVX2
// IQ4_XS with AVX2: each group's 32 nibbles through the level table in one shuffle, then the scalar
// decoder's dl * level.
void dequant_iq4_xs(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const uint8_t* qs = b + 8;
  const __m256i levels = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(kIq4Levels)));
  const __m128i mask = _mm_set1_epi8(0x0F);
  for (int group = 0; group < 8; ++group) {
    const __m256 dl = _mm256_set1_ps(d * static_cast<float>(iq4_xs_scale(group, b)));
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m256i nibbles =
        _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), _mm_and_si128(bytes, mask));
    store_scaled(_mm256_shuffle_epi8(levels, nibbles), dl, dl, _mm256_setzero_ps(), false, y);
    y += 32;
    qs += 16;
  }
}
#else
void dequant_iq4_xs(const uint8_t* b, float* y) { dequant_iq4_xs_scalar(b, y); }
#endif

template <void (*Decode)(const uint8_t*, float*)>
void decode_bytes(const std::byte* block, float* out) {
  Decode(reinterpret_cast<const uint8_t*>(block), out);
}

}  // namespace

BlockDecoder portable_block_decoder(ElementType format) {
  switch (format) {
    case ElementType::q4_k: return decode_bytes<dequant_q4_k_scalar>;
    case ElementType::q5_k: return decode_bytes<dequant_q5_k_scalar>;
    case ElementType::iq4_xs: return decode_bytes<dequant_iq4_xs_scalar>;
    case ElementType::q6_k: return decode_bytes<dequant_q6_k_scalar>;
    default: return block_decoder(format);
  }
}

BlockDecoder block_decoder(ElementType format) {
  switch (format) {
    case ElementType::q4_0: return decode_bytes<dequant_q4_0>;
    case ElementType::q4_1: return decode_bytes<dequant_q4_1>;
    case ElementType::q5_0: return decode_bytes<dequant_q5_0>;
    case ElementType::q5_1: return decode_bytes<dequant_q5_1>;
    case ElementType::q8_0: return decode_bytes<dequant_q8_0>;
    case ElementType::q2_k: return decode_bytes<dequant_q2_k>;
    case ElementType::q3_k: return decode_bytes<dequant_q3_k>;
    case ElementType::q4_k: return decode_bytes<dequant_q4_k>;
    case ElementType::q5_k: return decode_bytes<dequant_q5_k>;
    case ElementType::q6_k: return decode_bytes<dequant_q6_k>;
    case ElementType::iq4_nl: return decode_bytes<dequant_iq4_nl>;
    case ElementType::iq4_xs: return decode_bytes<dequant_iq4_xs>;
    default: return checkpoint_block_decoder(format);
  }
}

void dequantize_blocks(ElementType format, const std::byte* data, int64_t blocks, float* out) {
  const BlockDecoder decode = block_decoder(format);
  if (decode == nullptr) {
    throw std::invalid_argument(fmt::format("dequantize_blocks: {} is not a block format", element_type_name(format)));
  }
  const size_t bytes = element_block_bytes(format);
  const int64_t elements = element_block_size(format);
  for (int64_t k = 0; k < blocks; ++k) decode(data + static_cast<size_t>(k) * bytes, out + k * elements);
}

}  // namespace sabre
