#include "kernels/cpu/cpu_kernels.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace sabre::cpu {
namespace {

// A dot product the compiler can vectorise: without -ffast-math it may not reorder a single running
// sum, so the sum is split over 16 independent lanes (two AVX2 or one AVX-512 register) explicitly.
inline float dot(const float* a, const float* b, int64_t n) {
  constexpr int kLanes = 16;
  float lanes[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) lanes[l] += a[i + l] * b[i + l];
  }
  float sum = 0.0f;
  for (int l = 0; l < kLanes; ++l) sum += lanes[l];
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

// OpenBLAS: for prefill its sgemm is far ahead of anything simple. Its sgemv is as fast as a
// hand-vectorised GEMV on one thread (8.4 vs 8.5 GB/s over SmolLM2's matrices), but CpuBackend decodes
// through cpu::f32_gemv on its own pool instead (quantized_gemv.hpp), so that only one set of threads
// is awake during a decode step; this function's one-row path serves direct callers.
void linear(const float* x, int64_t rows, int64_t in, const float* weight, const float* bias, int64_t out,
            float* y, int64_t y_stride) {
  const float beta = bias ? 1.0f : 0.0f;
  const int64_t ldy = y_stride > 0 ? y_stride : out;
  if (bias) {
    for (int64_t r = 0; r < rows; ++r) std::copy(bias, bias + out, y + r * ldy);
  }
  if (rows == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, static_cast<blasint>(out), static_cast<blasint>(in), 1.0f, weight,
                static_cast<blasint>(in), x, 1, beta, y, 1);
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(rows), static_cast<blasint>(out),
                static_cast<blasint>(in), 1.0f, x, static_cast<blasint>(in), weight, static_cast<blasint>(in), beta,
                y, static_cast<blasint>(ldy));
  }
}

void rms_norm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y,
              int64_t x_stride, int64_t y_stride) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * x_stride;
    float* yr = y + r * y_stride;
    const float sum = dot(xr, xr, dim);
    // Hugging Face: hidden * torch.rsqrt(variance + eps), then weight * (that).
    const float inv = 1.0f / std::sqrt(sum / static_cast<float>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) yr[i] = weight[i] * (xr[i] * inv);
  }
}

void rope_table(std::span<const int32_t> positions, std::span<const float> inv_freq, float scaling,
                float* cos_sin) {
  const size_t half = inv_freq.size();
  for (size_t r = 0; r < positions.size(); ++r) {
    float* row = cos_sin + r * 2 * half;
    const float p = static_cast<float>(positions[r]);
    for (size_t i = 0; i < half; ++i) {
      const float angle = p * inv_freq[i];  // fp32 product, as transformers computes it
      row[i] = std::cos(angle) * scaling;
      row[half + i] = std::sin(angle) * scaling;
    }
  }
}

void apply_rope(float* x, int64_t rows, int64_t heads, int64_t head_dim, int64_t offset, int64_t row_stride,
                const float* cos_sin) {
  const int64_t half = head_dim / 2;
  for (int64_t r = 0; r < rows; ++r) {
    const float* cos = cos_sin + r * head_dim;
    const float* sin = cos + half;
    for (int64_t h = 0; h < heads; ++h) {
      float* head = x + r * row_stride + offset + h * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const float a = head[i];
        const float b = head[i + half];
        head[i] = a * cos[i] - b * sin[i];
        head[i + half] = b * cos[i] + a * sin[i];
      }
    }
  }
}

void silu_mul(const float* gate_up, int64_t rows, int64_t inter, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* gate = gate_up + r * 2 * inter;
    const float* up = gate + inter;
    float* o = out + r * inter;
    for (int64_t i = 0; i < inter; ++i) {
      const float g = gate[i];
      o[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
  }
}

void attention_head(const float* q, int64_t q_stride, int64_t rows, int64_t first_position, const float* k,
                    const float* v, int64_t kv_stride, int64_t head_dim, float scale, float* out,
                    int64_t out_stride, float* scores) {
  for (int64_t i = 0; i < rows; ++i) {
    const float* qi = q + i * q_stride;
    const int64_t keys = first_position + i + 1;
    float max_score = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < keys; ++j) {
      scores[j] = dot(qi, k + j * kv_stride, head_dim) * scale;
      max_score = std::max(max_score, scores[j]);
    }
    float total = 0.0f;
    for (int64_t j = 0; j < keys; ++j) {
      scores[j] = std::exp(scores[j] - max_score);
      total += scores[j];
    }
    const float inv_total = 1.0f / total;
    float* oi = out + i * out_stride;
    // Weighted sum of values, 16 output dimensions at a time held in a local accumulator (registers),
    // rather than read-modify-writing the output row once per key.
    constexpr int64_t kChunk = 16;
    for (int64_t d0 = 0; d0 < head_dim; d0 += kChunk) {
      const int64_t width = std::min(kChunk, head_dim - d0);
      float acc[kChunk] = {};
      if (width == kChunk) {
        for (int64_t j = 0; j < keys; ++j) {
          const float* vj = v + j * kv_stride + d0;
          const float w = scores[j];
          for (int64_t l = 0; l < kChunk; ++l) acc[l] += w * vj[l];
        }
      } else {
        for (int64_t j = 0; j < keys; ++j) {
          const float* vj = v + j * kv_stride + d0;
          for (int64_t l = 0; l < width; ++l) acc[l] += scores[j] * vj[l];
        }
      }
      for (int64_t l = 0; l < width; ++l) oi[d0 + l] = acc[l] * inv_total;
    }
  }
}

}  // namespace sabre::cpu
