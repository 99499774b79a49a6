#pragma once
// The element types a backend buffer can hold. Plain types have one element per value; packed types
// (GGUF's block formats and the repacked checkpoint formats) store blocks of 32 or 256 elements in a fixed number of bytes, so a buffer of
// them is counted in elements but sized in blocks.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

namespace sabre {

enum class ElementType : uint8_t {
  f32,       // IEEE binary32
  bf16,      // bfloat16: the top 16 bits of an f32
  f16,       // IEEE binary16
  i8,        // int8 (KV cache with a scale per token and head)
  fp8_e4m3,  // OCP FP8 E4M3 (KV cache with a scale per token and head)
  i32,       // int32 (token ids, positions, block tables)
  q8_0,      // GGUF Q8_0: per 32 elements an fp16 scale and 32 int8 (34 bytes)
  q4_1,      // GGUF Q4_1: per 32 elements an fp16 scale, an fp16 minimum and 32 nibbles (20 bytes)
  // The other GGUF block formats, kept as a file stores them (layouts in kernels/quant_blocks.cpp):
  q4_0,      // per 32: fp16 scale, 32 nibbles offset by 8 (18 bytes)
  q5_0,      // per 32: fp16 scale, 32 fifth bits, 32 nibbles, offset by 16 (22 bytes)
  q5_1,      // per 32: fp16 scale and minimum, 32 fifth bits, 32 nibbles (24 bytes)
  q2_k,      // per 256: 16 groups with 4-bit scales and minimums, 2-bit values (84 bytes)
  q3_k,      // per 256: 16 groups with 6-bit scales, 3-bit values (110 bytes)
  q4_k,      // per 256: 8 groups with 6-bit scales and minimums, 4-bit values (144 bytes)
  q5_k,      // per 256: as Q4_K with a fifth bit (176 bytes)
  q6_k,      // per 256: 16 groups with int8 scales, 6-bit values (210 bytes)
  iq4_nl,    // per 32: fp16 scale, 32 nibbles indexing a fixed non-linear table (18 bytes)
  iq4_xs,    // per 256: fp16 scale, 8 groups with 6-bit scales, nibbles into the same table (136 bytes)
  // The forms GPTQ, AWQ, FP8 and compressed-tensors safetensors are repacked into at load, one scale (and
  // zero point) per 32 inputs so that every group size and act-order layout maps onto the same kernels
  // (layouts in kernels/checkpoint_blocks.hpp):
  q4_z,      // per 32: fp32 scale, uint8 zero point, 32 nibbles; value = scale * (q - zero) (21 bytes)
  q8_z,      // per 32: fp32 scale, uint8 zero point, 32 uint8; value = scale * (q - zero) (37 bytes)
  fp8_s,     // per 32: fp32 scale, 32 FP8 E4M3 values; value = scale * e4m3 (36 bytes)
};

std::string_view element_type_name(ElementType type);

// Elements per block: 32 or 256 for the packed types, 1 for the rest. Constant-evaluable, so the
// kernels' per-format code reads block sizes from here rather than keeping its own copies.
constexpr int64_t element_block_size(ElementType type) {
  switch (type) {
    case ElementType::q8_0:
    case ElementType::q4_1:
    case ElementType::q4_0:
    case ElementType::q5_0:
    case ElementType::q5_1:
    case ElementType::iq4_nl:
    case ElementType::q4_z:
    case ElementType::q8_z:
    case ElementType::fp8_s: return 32;
    case ElementType::q2_k:
    case ElementType::q3_k:
    case ElementType::q4_k:
    case ElementType::q5_k:
    case ElementType::q6_k:
    case ElementType::iq4_xs: return 256;
    default: return 1;
  }
}

// Bytes per block (per element for the plain types).
constexpr size_t element_block_bytes(ElementType type) {
  switch (type) {
    case ElementType::f32:
    case ElementType::i32: return 4;
    case ElementType::bf16:
    case ElementType::f16: return 2;
    case ElementType::i8:
    case ElementType::fp8_e4m3: return 1;
    case ElementType::q8_0: return 2 + 32;
    case ElementType::q4_1: return 2 + 2 + 16;
    case ElementType::q4_0: return 2 + 16;
    case ElementType::q5_0: return 2 + 4 + 16;
    case ElementType::q5_1: return 2 + 2 + 4 + 16;
    case ElementType::q2_k: return 16 + 64 + 2 + 2;
    case ElementType::q3_k: return 32 + 64 + 12 + 2;
    case ElementType::q4_k: return 2 + 2 + 12 + 128;
    case ElementType::q5_k: return 2 + 2 + 12 + 32 + 128;
    case ElementType::q6_k: return 128 + 64 + 16 + 2;
    case ElementType::iq4_nl: return 2 + 16;
    case ElementType::iq4_xs: return 2 + 2 + 4 + 128;
    case ElementType::q4_z: return 4 + 1 + 16;
    case ElementType::q8_z: return 4 + 1 + 32;
    case ElementType::fp8_s: return 4 + 32;
  }
  throw std::invalid_argument("element_block_bytes: unknown element type");
}

inline bool is_packed(ElementType type) { return element_block_size(type) > 1; }

// Bytes `count` elements take. Throws std::invalid_argument when a packed type's count is not a whole
// number of blocks (the message names the type and the count).
size_t element_bytes(ElementType type, int64_t count);

}  // namespace sabre
