#pragma once
// Conversion of ggml tensor data (plain floats and the block-quantised formats) to fp32, following the
// block layouts of ggml-quants, for tensors kept in fp32 (and the tests that compare).

#include <cstddef>
#include <span>

#include <cstdint>
#include <optional>

#include "kernels/element_type.hpp"
#include "model/weights/gguf_types.hpp"

namespace sabre {

// Expands `src`, holding dst.size() elements of `type` (a whole number of blocks, contiguous), into
// `dst`. Throws std::runtime_error when the sizes disagree or the type is not supported.
void dequantize_ggml(GgmlType type, std::span<const std::byte> src, std::span<float> dst);

// The packed ElementType a ggml block format is kept in (Q4_0 .. Q6_K, IQ4_NL, IQ4_XS), nullopt for the
// plain types and those Sabre only reads by dequantising (or not at all).
std::optional<ElementType> ggml_element_type(uint32_t raw_type);

}  // namespace sabre
