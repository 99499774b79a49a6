#pragma once
// Conversions between stored element types and fp32 (load_f32, the weight loader and the tests use them).

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/float16.hpp"
#include "model/weights/weight_source.hpp"

namespace sabre {

float bf16_to_f32(uint16_t bits);
float f16_to_f32(uint16_t bits);  // IEEE binary16, subnormals and inf/nan included
// The narrowing conversions, f32_to_bf16 and f32_to_f16, live in kernels/float16.hpp (the KV cache uses
// them too).

// `bytes` holds exactly out.size() values of `dtype`, possibly unaligned.
void convert_to_f32(DType dtype, std::span<const std::byte> bytes, std::span<float> out);

}  // namespace sabre
