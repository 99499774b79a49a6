#pragma once
// The fast decode path for quantised weights: the activations of each row are quantised to int8 per
// block of 32 (x ~ dx * qx, dx = max|x| / 127, as llama.cpp's Q8_0 / Q8_1 do) and every weight block is
// multiplied with them by integer dot products (AVX2: maddubs + madd, 32 products per instruction pair),
// then scaled once per block: dot(w, x) ~ sum over blocks of dw * dx * sum(qw * qx) + mw * dx * sum(qx)
// for the formats with a minimum or a zero point. The weights are exact; the activations' rounding bounds
// the error: |fast - exact| <= sum over the row of |w_i| * dx_block(i) / 2 (plus fp32 rounding), which
// int8_dot_error_bound computes and the tests hold the kernel to. The 256-element super-blocks (the
// K-quants, IQ4_XS) are read as 8 runs of 32 with their sub-block scales (Q3_K, Q6_K: one per 16 elements).
//
// Outputs are computed four at a time, one per lane: each block's integer sums of four weight rows are
// reduced together by one fixed tree and scaled by the four rows' scales in one multiply-add, which
// spares the per-row scalar work that otherwise bounds a decode step. The rows of a tile are fetched
// ahead (software prefetch): four interleaved streams are not what the hardware prefetcher follows.
// Each (row, output) element's arithmetic is fixed (the same tree, blocks in order, tails computed in a
// full tile), so a row's result does not depend on the other rows or on how outputs are split over
// threads.
// The exact fp32 kernels (row_invariant_gemm.hpp) stay for prefill, for batch-invariant mode, for
// --exact-kernels and for the formats this path does not read.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/element_type.hpp"

namespace sabre::cpu {

// Whether int8_dot_gemm reads weights of `format` (on this build: AVX2 compiled in).
bool int8_dot_supports(ElementType format);

// `rows` rows of `in` activations (in a multiple of 32), each quantised per block of 32.
struct QuantizedActivations {
  int64_t rows = 0;
  int64_t in = 0;
  std::vector<int8_t> values;  // rows x in
  std::vector<float> scales;   // rows x in / 32: dx
  std::vector<float> sums;     // rows x in / 32: dx * sum(qx), for the formats with a minimum
};

// Fills `out` (reusing its storage) from x[rows][in].
void quantize_activations(const float* x, int64_t rows, int64_t in, QuantizedActivations& out);

// y[r * y_stride + (o - out_begin)] = dot(W row o, x row r) (+ bias[o]) for r in [0, x.rows), o in
// [out_begin, out_end), W in `format` (int8_dot_supports) with rows of x.in elements. Single-threaded.
void int8_dot_gemm(ElementType format, const std::byte* weight, const QuantizedActivations& x, int64_t out_begin,
                   int64_t out_end, const float* bias, float* y, int64_t y_stride);

// The bound above for W row o (rows of `in` elements of `format`) against row r of `x`: the sum over the
// row of |w_i| times half the scale of w_i's activation block.
double int8_dot_error_bound(ElementType format, const std::byte* weight, int64_t in, int64_t o,
                            const QuantizedActivations& x, int64_t r);

}  // namespace sabre::cpu
