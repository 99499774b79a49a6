#pragma once
// Conversions between stored element types and fp32 (load_f32, the weight loader and the tests use them).

#include <cstddef>
#include <cstdint>
#include <span>

#include "model/weights/weight_source.hpp"

namespace sabre {

float bf16_to_f32(uint16_t bits);
float f16_to_f32(uint16_t bits);  // IEEE binary16, subnormals and inf/nan included

// The nearest bf16 / binary16 value (ties to even), as torch's .to(torch.bfloat16 / torch.float16)
// rounds: overflow becomes inf, NaN stays NaN, values below binary16's range become subnormals or zero.
uint16_t f32_to_bf16(float value);
uint16_t f32_to_f16(float value);

// `bytes` holds exactly out.size() values of `dtype`, possibly unaligned.
void convert_to_f32(DType dtype, std::span<const std::byte> bytes, std::span<float> out);

}  // namespace sabre
