#include "kernels/cpu/cpu_backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <cblas.h>

#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/int8_dot_gemm.hpp"
#include "kernels/cpu/quantized_gemv.hpp"
#include "kernels/cpu/row_invariant_gemm.hpp"

// CpuBackend's linear layers. Default mode: the pool-threaded row-invariant kernel for decode steps (up
// to 16 rows) and sgemm (over dequantised tiles for quantised weights) for prefill. Batch-invariant mode: the
// row-invariant kernel (row_invariant_gemm.hpp) for every row count, so a row's result never depends on
// what shares its step.

namespace sabre {
namespace {

// Default mode: up to this many rows (decode steps of up to 16 sequences) use the pool-threaded
// row-invariant kernel (quantised W dequantised once for all rows); more go to sgemm (quantised W
// dequantised tile by tile), which is faster for long prompts but rounds differently. Measured on
// SmolLM2 Q4_1 through sabre-bench-engine (16 concurrent decodes, one thread): 188 ms per step with
// this kernel against 215 ms with sgemm; at 512 rows sgemm takes 0.5-0.9x the kernel's time.
constexpr int64_t kMaxGemvRows = 16;
constexpr int64_t kGemvTasksPerThread = 4;   // some slack when a thread is descheduled
constexpr int64_t kMinGemvRowsPerTask = 32;
constexpr int64_t kPrefillTileFloats = 384 * 1024;

// Runs run(begin, end) over [0, out) in runs of outputs spread over the pool (a few per thread, none
// under kMinGemvRowsPerTask outputs): W is read once per step whatever the rows.
template <class Run>
void over_output_runs(ThreadPool& pool, int64_t out, const Run& run) {
  const int64_t tasks = std::min<int64_t>(pool.concurrency() * kGemvTasksPerThread, out / kMinGemvRowsPerTask);
  if (tasks <= 1) {
    run(0, out);
  } else {
    pool.parallel_for(tasks, [&](int64_t task) { run(out * task / tasks, out * (task + 1) / tasks); });
  }
}

}  // namespace

void CpuBackend::linear(const void* input, int64_t rows, const LinearWeight& w, void* output) {
  const auto* x = static_cast<const float*>(input);
  if (w.input_order != nullptr) {
    // Gathered once per call (a row of `in` floats per input row), then multiplied in stored order.
    const int64_t in = w.in_features;
    permuted_input_.resize(static_cast<size_t>(rows * in));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < in; ++j) permuted_input_[static_cast<size_t>(r * in + j)] = x[r * in + w.input_order[j]];
    }
    x = permuted_input_.data();
  }
  auto* y = static_cast<float*>(output);
  if (rows <= kMaxGemvRows && !options_.batch_invariant && !options_.exact_kernels && cpu::int8_dot_supports(w.type)) {
    int8_dot_linear(x, rows, w, y);
  } else if (rows <= kMaxGemvRows || options_.batch_invariant) {
    gemv_linear(x, rows, w, y);
  } else if (w.type == ElementType::f32) {
    cpu::linear(x, rows, w.in_features, static_cast<const float*>(w.weight), w.bias, w.out_features, y,
                w.output_stride());
  } else {
    converted_gemm_linear(x, rows, w, y);
  }
}

void CpuBackend::logits(const void* x, int64_t rows, const LinearWeight& w, float* logits) {
  linear(x, rows, w, logits);  // activations are fp32 already
}

// Any number of rows through the row-invariant kernel. Each task takes a run of output rows for every
// input row, so W is read once per step; which task computes an element, and which other rows share
// its register tile, never changes the element's arithmetic. Biases are added inside the kernel, the
// same way for every row count.
void CpuBackend::gemv_linear(const float* x, int64_t rows, const LinearWeight& w, float* y) {
  const int64_t out = w.out_features;
  const int64_t stride = w.output_stride();
  over_output_runs(pool_, out, [&](int64_t begin, int64_t end) {
    cpu::row_invariant_gemm(w, x, rows, begin, end, y + begin, stride);
  });
}

// Decode rows of a quantised matrix through int8 activations (quantised once per call, shared by every
// task) and integer dot products, split over the pool as gemv_linear splits its outputs.
void CpuBackend::int8_dot_linear(const float* x, int64_t rows, const LinearWeight& w, float* y) {
  cpu::quantize_activations(x, rows, w.in_features, quantized_input_);
  const auto* weight = static_cast<const std::byte*>(w.weight);
  const int64_t stride = w.output_stride();
  over_output_runs(pool_, w.out_features, [&](int64_t begin, int64_t end) {
    cpu::int8_dot_gemm(w.type, weight, quantized_input_, begin, end, w.bias, y + begin, stride);
  });
}

void CpuBackend::converted_gemm_linear(const float* x, int64_t rows, const LinearWeight& w, float* y) {
  const int64_t in = w.in_features;
  const int64_t out = w.out_features;
  // Dequantise a tile of W's rows (in parallel), then one sgemm per tile; the tile stays small enough
  // (<= 1.5 MB) to be reused from cache while sgemm walks the prompt rows.
  const int64_t tile = std::max<int64_t>(1, std::min<int64_t>(out, kPrefillTileFloats / in));
  converted_tile_.resize(static_cast<size_t>(tile * in));
  float* tile_data = converted_tile_.data();
  const int64_t stride = w.output_stride();
  if (w.bias) {
    for (int64_t r = 0; r < rows; ++r) std::copy(w.bias, w.bias + out, y + r * stride);
  }
  for (int64_t begin = 0; begin < out; begin += tile) {
    const int64_t count = std::min(tile, out - begin);
    for_row_blocks(count, [&](int64_t b, int64_t e) {
      cpu::dequantize_rows(w.type, static_cast<const std::byte*>(w.weight), in, begin + b, begin + e, tile_data + b * in);
    });
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(rows), static_cast<blasint>(count),
                static_cast<blasint>(in), 1.0f, x, static_cast<blasint>(in), tile_data, static_cast<blasint>(in),
                w.bias ? 1.0f : 0.0f, y + begin, static_cast<blasint>(stride));
  }
}

}  // namespace sabre
