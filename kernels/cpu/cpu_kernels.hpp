#pragma once
// The fp32 CPU kernels behind CpuBackend, as plain functions over host arrays so that each can be tested
// against a naive reference (tests/unit/kernels_cpu). Matrix products go to OpenBLAS; the rest are
// written here, vectorised by the compiler, parallel over rows or heads through a ThreadPool.

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cpu/thread_pool.hpp"

namespace sabre::cpu {

// y[rows, out] = x[rows, in] * W^T + bias, W row-major [out, in] (Hugging Face's nn.Linear layout).
// One row uses sgemv (the decode path), several use sgemm (prefill). y_stride: elements from one output
// row to the next (0: out).
void linear(const float* x, int64_t rows, int64_t in, const float* weight, const float* bias, int64_t out,
            float* y,
            int64_t y_stride = 0);

// y = x * rsqrt(mean(x^2) + eps) * weight per row; y may alias x.
void rms_norm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y,
              int64_t x_stride, int64_t y_stride);

// cos_sin: rows of [cos(p*f_0..f_{h-1}), sin(p*f_0..f_{h-1})] * scaling, h = inv_freq.size().
void rope_table(std::span<const int32_t> positions, std::span<const float> inv_freq, float scaling,
                float* cos_sin);

// Rotates `heads` heads of `head_dim` values at `x + offset` in every row (stride `row_stride`), pairing
// element i with i + head_dim/2 (rotate_half), using the row's cos_sin (head_dim values).
void apply_rope(float* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t offset, int64_t row_stride,
                const float* cos_sin);

// out = silu(gate) * up, gate_up rows = [gate (inter) | up (inter)].
void silu_mul(const float* gate_up, int64_t rows, int64_t inter, float* out);

// Causal attention of one sequence's `rows` queries for one q head over a contiguous key/value history,
// in plain code: the reference the tests hold CpuBackend's paged kernel (paged_attention.hpp) against.
// query i (absolute position first_position + i) attends to keys 0..first_position+i. Keys and values are
// rows of `kv_stride` floats (head_dim of them used from `k`/`v`). `scores` holds at least
// first_position + rows floats of scratch.
void attention_head(const float* q, int64_t q_stride, int64_t rows, int64_t first_position, const float* k,
                    const float* v, int64_t kv_stride, int64_t head_dim, float scale, float* out,
                    int64_t out_stride, float* scores);

}  // namespace sabre::cpu
