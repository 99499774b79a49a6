#pragma once
// Conversions between stored element types and fp32 (load_f32, the weight loader and the tests use them).

#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/float16.hpp"
#include "model/weights/weight_source.hpp"

namespace sabre {

// The scalar conversions (bf16_to_f32, f16_to_f32 and back) live in kernels/float16.hpp: the block
// decoders and the KV cache use them too.

// `bytes` holds exactly out.size() values of `dtype`, possibly unaligned.
void convert_to_f32(DType dtype, std::span<const std::byte> bytes, std::span<float> out);

}  // namespace sabre
