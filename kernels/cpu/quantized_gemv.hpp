#pragma once
// Matrix products straight from the form a checkpoint stores its weights in: GGUF's quantised blocks
// (every block format of kernels/element_type.hpp) or 16-bit floats (bf16, f16), so that decoding reads
// the 2.6-16 bits per weight the file stores instead of a 32-bit copy. Every weight is converted to fp32
// with exactly the arithmetic of kernels/quant_blocks.cpp (same operations, same order, so the same fp32
// value the loader's widening gives; bf16 and f16
// convert exactly); only the order in which the products are summed differs from "convert, then sgemv".
// The GEMVs are row_invariant_gemm.hpp's kernel with one input row, so a row's result is the same alone
// or in a batch.

#include <cstddef>
#include <cstdint>

#include "kernels/backend.hpp"

namespace sabre::cpu {

// Bytes one row of `in` weights takes in `format` (`in` must be a multiple of the block size).
size_t weight_row_bytes(ElementType format, int64_t in);
// Elements per block: 32 or 256 for the block formats, 1 for the float types.
int64_t weight_block_elements(ElementType format);

// y[o - row_begin] = dot(dequantised row o of W, x) for o in [row_begin, row_end). W holds rows of
// weight_row_bytes(format, in) bytes. Single-threaded; CpuBackend splits the rows over its pool.
void quantized_gemv(ElementType format, const std::byte* weight, int64_t in, const float* x, int64_t row_begin,
                    int64_t row_end, float* y);

// The same for an fp32 matrix (rows of `in` floats, any `in`). CpuBackend runs decode's fp32 GEMVs
// through this on its own pool rather than OpenBLAS's sgemv, so only one set of threads is ever awake
// during a decode step (OpenBLAS's threads and the pool's competing for two cores cost the most).
void f32_gemv(const float* weight, int64_t in, const float* x, int64_t row_begin, int64_t row_end, float* y);

// out[(o - row_begin) * in + i] = W[o, i] as fp32 for o in [row_begin, row_end), W in a block format,
// bf16 or f16: the prefill path converts a tile of rows and hands it to sgemm, the embedding converts a row.
void dequantize_rows(ElementType format, const std::byte* weight, int64_t in, int64_t row_begin, int64_t row_end,
                     float* out);

}  // namespace sabre::cpu
