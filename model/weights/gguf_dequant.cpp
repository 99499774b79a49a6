// Block dequantisation for the ggml formats. Each format stores a few scale values per block (fp16)
// followed by packed small integers; the element order inside a block is ggml's, which is not always
// the packing order (Q4_0 keeps elements j and j+16 in one byte, the K-quants interleave 32-element
// groups), so each decoder spells out that order.

#include "model/weights/gguf_dequant.hpp"

#include "model/weights/dtype_convert.hpp"

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

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

  // Scale i: low 4 bits from byte i (i < 8, low nibble) or byte i-8 (high nibble); high 2 bits from
  // bytes 8..11, two bits per scale.
  int scales[16];
  for (int i = 0; i < 16; ++i) {
    const int low = i < 8 ? (packed[i] & 0x0F) : (packed[i - 8] >> 4);
    const int high = (packed[8 + (i % 4)] >> (2 * (i / 4))) & 3;
    scales[i] = (low | (high << 4)) - 32;
  }

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

// The eight 6-bit (scale, min) pairs of Q4_K / Q5_K, packed into 12 bytes.
void k_scale_min(int j, const uint8_t* packed, uint8_t& scale, uint8_t& min) {
  if (j < 4) {
    scale = packed[j] & 63;
    min = packed[j + 4] & 63;
  } else {
    scale = static_cast<uint8_t>((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4));
    min = static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
  }
}

// Q4_K: 8 groups of 32. Layout: d, dmin, scales[12], qs[128]; each 32-byte run of qs holds two groups
// (low nibbles first).
void dequant_q4_k(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float dmin = load_half(b + 2);
  const uint8_t* packed = b + 4;
  const uint8_t* q = b + 16;
  for (int pair = 0; pair < 4; ++pair) {
    uint8_t sc, m;
    k_scale_min(2 * pair, packed, sc, m);
    const float d1 = d * sc, m1 = dmin * m;
    k_scale_min(2 * pair + 1, packed, sc, m);
    const float d2 = d * sc, m2 = dmin * m;
    for (size_t l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0x0F) - m1;
    for (size_t l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    q += 32;
  }
}

// Q5_K: Q4_K plus a fifth bit per element in qh[32] (bit 2*pair for the low group, 2*pair+1 for the high).
// Layout: d, dmin, scales[12], qh[32], qs[128].
void dequant_q5_k(const uint8_t* b, float* y) {
  const float d = load_half(b);
  const float dmin = load_half(b + 2);
  const uint8_t* packed = b + 4;
  const uint8_t* qh = b + 16;
  const uint8_t* q = b + 48;
  for (int pair = 0; pair < 4; ++pair) {
    uint8_t sc, m;
    k_scale_min(2 * pair, packed, sc, m);
    const float d1 = d * sc, m1 = dmin * m;
    k_scale_min(2 * pair + 1, packed, sc, m);
    const float d2 = d * sc, m2 = dmin * m;
    const uint8_t low_bit = static_cast<uint8_t>(1u << (2 * pair));
    const uint8_t high_bit = static_cast<uint8_t>(1u << (2 * pair + 1));
    for (size_t l = 0; l < 32; ++l) {
      *y++ = d1 * static_cast<float>((q[l] & 0x0F) + ((qh[l] & low_bit) ? 16 : 0)) - m1;
    }
    for (size_t l = 0; l < 32; ++l) {
      *y++ = d2 * static_cast<float>((q[l] >> 4) + ((qh[l] & high_bit) ? 16 : 0)) - m2;
    }
    q += 32;
  }
}

// Q6_K: 16 groups of 16 with int8 scales; 4 low bits in ql[128], 2 high bits in qh[64].
// Layout: ql[128], qh[64], scales[16], d. Each 128-element half interleaves four 32-element runs.
void dequant_q6_k(const uint8_t* b, float* y) {
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

using BlockDecoder = void (*)(const uint8_t*, float*);

BlockDecoder block_decoder(GgmlType type) {
  switch (type) {
    case GgmlType::q4_0: return dequant_q4_0;
    case GgmlType::q4_1: return dequant_q4_1;
    case GgmlType::q5_0: return dequant_q5_0;
    case GgmlType::q5_1: return dequant_q5_1;
    case GgmlType::q8_0: return dequant_q8_0;
    case GgmlType::q2_k: return dequant_q2_k;
    case GgmlType::q3_k: return dequant_q3_k;
    case GgmlType::q4_k: return dequant_q4_k;
    case GgmlType::q5_k: return dequant_q5_k;
    case GgmlType::q6_k: return dequant_q6_k;
    default: return nullptr;
  }
}

}  // namespace

void dequantize_ggml(GgmlType type, std::span<const std::byte> src, std::span<float> dst) {
  const auto raw = static_cast<uint32_t>(type);
  const auto layout = ggml_block_layout(raw);
  if (!layout) throw std::runtime_error(fmt::format("cannot dequantise unknown ggml type {}", raw));
  if (dst.size() % layout->elements_per_block != 0) {
    throw std::runtime_error(fmt::format("cannot dequantise {} elements of {}: not a multiple of its "
                                         "block size {}",
                                         dst.size(), ggml_type_name(raw), layout->elements_per_block));
  }
  const size_t blocks = dst.size() / layout->elements_per_block;
  if (src.size() != blocks * layout->bytes_per_block) {
    throw std::runtime_error(fmt::format("cannot dequantise {} elements of {}: expected {} bytes, got {}",
                                         dst.size(), ggml_type_name(raw),
                                         blocks * layout->bytes_per_block, src.size()));
  }
  const auto* in = reinterpret_cast<const uint8_t*>(src.data());
  float* out = dst.data();
  switch (type) {
    case GgmlType::f32:
      std::memcpy(out, in, dst.size() * sizeof(float));
      return;
    case GgmlType::f16:
      for (size_t i = 0; i < dst.size(); ++i) out[i] = f16_to_f32(load_u16(in + 2 * i));
      return;
    case GgmlType::bf16:
      for (size_t i = 0; i < dst.size(); ++i) out[i] = bf16_to_f32(load_u16(in + 2 * i));
      return;
    default:
      break;
  }
  const BlockDecoder decode = block_decoder(type);
  if (decode == nullptr) {
    throw std::runtime_error(fmt::format("dequantising {} is not supported", ggml_type_name(raw)));
  }
  for (size_t blk = 0; blk < blocks; ++blk) {
    decode(in + blk * layout->bytes_per_block, out + blk * layout->elements_per_block);
  }
}

}  // namespace sabre
