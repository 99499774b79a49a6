#pragma once
// Conversions of stored element types to fp32 (load_f32 and the tests use them).

#include <cstddef>
#include <cstdint>
#include <span>

#include "model/weights/weight_source.hpp"

namespace sabre {

float bf16_to_f32(uint16_t bits);
float f16_to_f32(uint16_t bits);  // IEEE binary16, subnormals and inf/nan included

// `bytes` holds exactly out.size() values of `dtype`, possibly unaligned.
void convert_to_f32(DType dtype, std::span<const std::byte> bytes, std::span<float> out);

}  // namespace sabre
