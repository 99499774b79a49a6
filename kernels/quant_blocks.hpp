#pragma once
// The GGUF block formats' values: one block of a packed ElementType (kernels/element_type.hpp) to fp32.
// Each format stores a few scale values per block (fp16) followed by packed small integers; the element
// order inside a block is ggml's, which is not always the packing order (Q4_0 keeps elements j and j+16
// in one byte, the K-quants interleave 32-element groups), so each decoder spells out that order. The
// loader's widening to fp32 (model/weights/gguf_dequant.cpp) and the CPU kernels that multiply the
// blocks as stored both use these, so a kept-quantised matrix holds exactly the widened values.

#include <cstddef>
#include <cstdint>

#include "kernels/element_type.hpp"

namespace sabre {

// Writes element_block_size(format) floats for the block at `block`.
using BlockDecoder = void (*)(const std::byte* block, float* out);

// The decoder of a packed format (GGUF's, and the repacked checkpoint forms of checkpoint_blocks.hpp), or
// nullptr for a plain type.
BlockDecoder block_decoder(ElementType format);
// The plain C++ decoder of a format; where block_decoder uses AVX2 (Q4_K, Q5_K, Q6_K, IQ4_XS) it must give the same
// bits (the tests compare them).
BlockDecoder portable_block_decoder(ElementType format);

// The 6-bit (scale, min) pair j (0..7) of Q4_K / Q5_K, packed into their 12 scale bytes.
inline void k_scale_min(int j, const uint8_t* packed, uint8_t& scale, uint8_t& min) {
  if (j < 4) {
    scale = packed[j] & 63;
    min = packed[j + 4] & 63;
  } else {
    scale = static_cast<uint8_t>((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4));
    min = static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
  }
}

// Scale i (0..15, one per 16 elements) of Q3_K, from its 12 packed scale bytes: 4 low bits from byte i
// (i < 8) or the high nibble of byte i - 8, 2 high bits from bytes 8..11; stored plus 32.
inline int q3_k_scale(int i, const uint8_t* packed) {
  const int low = i < 8 ? (packed[i] & 0x0F) : (packed[i - 8] >> 4);
  const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
  return (low | (high << 4)) - 32;
}

// Group j's (0..7) scale in an IQ4_XS block (d, scales_h, scales_l[4], ...): 4 low bits from scales_l,
// 2 high bits from scales_h; stored plus 32.
inline int iq4_xs_scale(int j, const uint8_t* block) {
  const int scales_h = block[2] | (block[3] << 8);
  const int low = (block[4 + j / 2] >> (4 * (j % 2))) & 0x0F;
  const int high = (scales_h >> (2 * j)) & 3;
  return (low | (high << 4)) - 32;
}

// Group j's factors in Q4_K / Q5_K (super-block scale d, minimum scale dmin): value = scale * q - min.
struct KGroupScale {
  float scale;
  float min;
};
inline KGroupScale k_group_scale(int j, float d, float dmin, const uint8_t* packed) {
  uint8_t scale = 0, min = 0;
  k_scale_min(j, packed, scale, min);
  return {d * scale, dmin * min};
}

// `blocks` consecutive blocks of `format` to fp32. Throws std::invalid_argument for a plain type.
void dequantize_blocks(ElementType format, const std::byte* data, int64_t blocks, float* out);

}  // namespace sabre
