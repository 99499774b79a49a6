#pragma once
// OCP FP8 E4M3 <-> fp32 in plain C++: 1 sign bit, 4 exponent bits biased by 7, 3 mantissa bits, largest
// finite 448, no inf (0x7F / 0xFF are NaN). For the fp8 KV cache and for FP8 checkpoints' weights.

#include <cstdint>

namespace sabre {

// Nearest even, saturating at +-448; NaN becomes the NaN code 0x7F.
uint8_t float_to_e4m3(float value);
// Exact (every e4m3 value is an fp32 value).
float e4m3_to_float(uint8_t bits);

}  // namespace sabre
