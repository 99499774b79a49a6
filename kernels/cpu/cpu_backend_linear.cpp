#include "kernels/cpu/cpu_backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <cblas.h>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/quantized_gemv.hpp"

// CpuBackend's linear layers: the pool-threaded GEMV for decode and sgemm (over dequantised tiles for
// quantised weights) for prefill.

namespace sabre {
namespace {

// Linear layers: up to this many rows (decode steps of a few sequences) use the pool-threaded GEMV
// (fused dequantise-and-dot for quantised W); more go to sgemm (quantised W dequantised tile by tile).
constexpr int64_t kMaxGemvRows = 4;
constexpr int64_t kGemvTasksPerThread = 4;   // some slack when a thread is descheduled
constexpr int64_t kMinGemvRowsPerTask = 32;
constexpr int64_t kPrefillTileFloats = 384 * 1024;
}  // namespace

void CpuBackend::linear(const float* x, int64_t rows, const LinearWeight& w, float* y) {
  if (rows <= kMaxGemvRows) {
    gemv_linear(x, rows, w, y);
  } else if (w.format == WeightFormat::f32) {
    cpu::linear(x, rows, w.in_features, w.weight, w.bias, w.out_features, y);
  } else {
    quantized_gemm_linear(x, rows, w, y);
  }
}

void CpuBackend::gemv_linear(const float* x, int64_t rows, const LinearWeight& w, float* y) {
  const int64_t in = w.in_features;
  const int64_t out = w.out_features;
  // Each task takes a run of output rows for every input row, so W is read once per step.
  const auto rows_gemv = [&](int64_t begin, int64_t end) {
    for (int64_t r = 0; r < rows; ++r) {
      if (w.format == WeightFormat::f32) {
        cpu::f32_gemv(w.weight, in, x + r * in, begin, end, y + r * out + begin);
      } else {
        cpu::quantized_gemv(w.format, w.blocks, in, x + r * in, begin, end, y + r * out + begin);
      }
    }
  };
  const int64_t tasks = std::min<int64_t>(pool_.concurrency() * kGemvTasksPerThread, out / kMinGemvRowsPerTask);
  if (tasks <= 1) {
    rows_gemv(0, out);
  } else {
    pool_.parallel_for(tasks, [&](int64_t task) { rows_gemv(out * task / tasks, out * (task + 1) / tasks); });
  }
  if (w.bias) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < out; ++o) y[r * out + o] += w.bias[o];
    }
  }
}

void CpuBackend::quantized_gemm_linear(const float* x, int64_t rows, const LinearWeight& w, float* y) {
  const int64_t in = w.in_features;
  const int64_t out = w.out_features;
  // Dequantise a tile of W's rows (in parallel), then one sgemm per tile; the tile stays small enough
  // (<= 1.5 MB) to be reused from cache while sgemm walks the prompt rows.
  const int64_t tile = std::max<int64_t>(1, std::min<int64_t>(out, kPrefillTileFloats / in));
  dequantized_tile_.resize(static_cast<size_t>(tile * in));
  float* tile_data = dequantized_tile_.data();
  if (w.bias) {
    for (int64_t r = 0; r < rows; ++r) std::copy(w.bias, w.bias + out, y + r * out);
  }
  for (int64_t begin = 0; begin < out; begin += tile) {
    const int64_t count = std::min(tile, out - begin);
    for_row_blocks(count, [&](int64_t b, int64_t e) {
      cpu::dequantize_rows(w.format, w.blocks, in, begin + b, begin + e, tile_data + b * in);
    });
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(rows), static_cast<blasint>(count),
                static_cast<blasint>(in), 1.0f, x, static_cast<blasint>(in), tile_data, static_cast<blasint>(in),
                w.bias ? 1.0f : 0.0f, y + begin, static_cast<blasint>(out));
  }
}

}  // namespace sabre
