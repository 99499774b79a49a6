#pragma once
// The block forms quantised safetensors checkpoints (GPTQ, AWQ, compressed-tensors int4/int8, FP8) are
// repacked into at load. Those formats scale groups of 32 to 128 inputs (or whole rows, or 128 x 128
// tiles) and pack along different axes; giving every run of 32 inputs of an output row its own copy of
// its group's scale and zero point turns all of them into three 32-element block types that the CPU
// kernels multiply like GGUF's blocks. Scales are kept in fp32 so that fp16, bf16 and fp32 checkpoint
// scales are all held exactly, and value = scale * (q - zero) is one rounding of an exact product.
//
// Layouts (little-endian, no padding):
//   q4_z  (21 bytes): fp32 scale, uint8 zero (at most 16: GPTQ's v1 format stores 15 for 16), 16 bytes whose byte j holds element j in its low nibble and
//                     element j + 16 in its high nibble (GGUF Q4_1's order, so its unpacking is shared)
//   q8_z  (37 bytes): fp32 scale, uint8 zero, 32 uint8 elements
//   fp8_s (36 bytes): fp32 scale, 32 FP8 E4M3 elements

#include <cstddef>
#include <cstdint>

#include "kernels/element_type.hpp"
#include "kernels/quant_blocks.hpp"

namespace sabre {

// One block from 32 unsigned integers (each < 16, and the zero point <= 16, for q4_z) with their scale and
// zero point.
void encode_q4_z_block(float scale, uint8_t zero, const uint8_t* q, std::byte* block);
void encode_q8_z_block(float scale, uint8_t zero, const uint8_t* q, std::byte* block);
// One block from 32 E4M3 codes and their scale.
void encode_fp8_s_block(float scale, const uint8_t* codes, std::byte* block);

// The decoder of q4_z, q8_z or fp8_s; nullptr for any other type.
BlockDecoder checkpoint_block_decoder(ElementType format);

}  // namespace sabre
