#pragma once
// Matrix products whose result for every (input row, output) element is bit-identical whatever else is
// in the batch: the product of one row alone, of the same row among 64 decode rows or inside a prefill
// chunk, all round the same way. Continuous batching relies on this to give each request exactly the
// tokens it gets when run alone.
//
// How: one templated micro-kernel computes a register tile of R input rows x C outputs; each element's
// dot product always has the same shape, whatever R and C are:
//   - one 8-lane accumulator; element i (i below in - in % 8) goes to lane i % 8, added in increasing i
//     by fused multiply-add;
//   - then one horizontal sum of the 8 lanes in a fixed tree ((l + l+4), then (0 + 2) + (1 + 3));
//   - then the leftover elements of fp32 / 16-bit rows (in % 8 of them) by scalar fused multiply-add, in
//     order;
//   - then + bias[o], when there is a bias.
// Quantised weights are dequantised in registers with exactly model/weights/gguf_dequant.cpp's
// arithmetic, so the values multiplied are the dequantiser's; bf16 and f16 weights convert exactly, so a
// 16-bit matrix gives the same bits as an fp32 copy of it. Tiles share each weight load and conversion
// over R rows (and each x load over C outputs); from 12 rows on, weights that are not fp32 are first
// converted into fp32 panels shared by all rows (the same values, so the same bits). That is what keeps
// prefill fast.
// Threading over runs of outputs never changes an element's arithmetic either.
//
// The single-row kernels cpu::quantized_gemv and cpu::f32_gemv are this kernel with one row.

#include <cstddef>
#include <cstdint>

#include "kernels/backend.hpp"

namespace sabre::cpu {

// y[r * y_stride + (o - out_begin)] = dot(W row o, x row r) (+ bias[o] when bias is not null) for r in
// [0, rows) and o in [out_begin, out_end). x holds `rows` rows of `in` floats, one after another. W is
// `weight` as a LinearWeight holds it: fp32, bf16 or f16 rows of `in` elements (any `in`), or Q8_0 / Q4_1
// blocks with `in` a multiple of 32. Single-threaded: callers split [out_begin, out_end) over their
// threads.
void row_invariant_gemm(ElementType format, const void* weight, int64_t in, const float* x, int64_t rows,
                        int64_t out_begin, int64_t out_end, const float* bias, float* y, int64_t y_stride);

// The same from a LinearWeight (its format, weight or blocks, in_features and bias).
void row_invariant_gemm(const LinearWeight& w, const float* x, int64_t rows, int64_t out_begin, int64_t out_end,
                        float* y, int64_t y_stride);

}  // namespace sabre::cpu
