#pragma once
// Conversion of ggml tensor data (plain floats and the block-quantised formats) to fp32, following the
// block layouts of ggml-quants. The model runs in fp32, so quantised checkpoints are expanded once at load.

#include <cstddef>
#include <span>

#include "model/weights/gguf_types.hpp"

namespace sabre {

// Expands `src`, holding dst.size() elements of `type` (a whole number of blocks, contiguous), into
// `dst`. Throws std::runtime_error when the sizes disagree or the type is not supported.
void dequantize_ggml(GgmlType type, std::span<const std::byte> src, std::span<float> dst);

}  // namespace sabre
