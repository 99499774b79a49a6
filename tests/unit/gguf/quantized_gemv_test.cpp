// The fused dequantise-and-dot kernels (kernels/cpu/quantized_gemv) against the GGUF reader's own
// dequantiser (model/weights/gguf_dequant) followed by a naive double-precision dot product. Lives with
// the GGUF tests because test_kernels_cpu links only the kernel library, not the dequantiser.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/quantized_gemv.hpp"
#include "model/weights/gguf_dequant.hpp"
#include "model/weights/gguf_types.hpp"

using namespace sabre;

namespace {

GgmlType ggml_type_of(ElementType format) { return format == ElementType::q8_0 ? GgmlType::q8_0 : GgmlType::q4_1; }

// A random fp16 with magnitude in [2^-10, 2^-3): the range real scales and mins have, never inf/nan.
uint16_t random_half(std::mt19937_64& rng) {
  const auto sign = static_cast<uint16_t>(rng() & 1u);
  const auto exponent = static_cast<uint16_t>(5 + rng() % 7);
  const auto mantissa = static_cast<uint16_t>(rng() & 0x3FFu);
  return static_cast<uint16_t>((sign << 15) | (exponent << 10) | mantissa);
}

// `rows` rows of `in` weights in `format`: random scales, random quant bytes.
std::vector<std::byte> random_blocks(ElementType format, int64_t rows, int64_t in, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const int64_t blocks = rows * in / 32;
  const size_t block_bytes = format == ElementType::q8_0 ? 34 : 20;
  const size_t scale_bytes = format == ElementType::q8_0 ? 2 : 4;
  std::vector<std::byte> out(static_cast<size_t>(blocks) * block_bytes);
  for (int64_t b = 0; b < blocks; ++b) {
    std::byte* block = out.data() + static_cast<size_t>(b) * block_bytes;
    for (size_t s = 0; s < scale_bytes; s += 2) {
      const uint16_t h = random_half(rng);
      std::memcpy(block + s, &h, 2);
    }
    for (size_t i = scale_bytes; i < block_bytes; ++i) block[i] = static_cast<std::byte>(rng() & 0xFF);
  }
  return out;
}

std::vector<float> reference_dequantize(ElementType format, const std::vector<std::byte>& blocks, int64_t count) {
  std::vector<float> out(static_cast<size_t>(count));
  dequantize_ggml(ggml_type_of(format), blocks, out);
  return out;
}

std::vector<float> random_vector(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace

TEST_CASE("dequantize_rows gives exactly the GGUF dequantiser's values", "[gguf][quantized]") {
  for (ElementType format : {ElementType::q8_0, ElementType::q4_1}) {
    const int64_t rows = 7, in = 96;
    const auto blocks = random_blocks(format, rows, in, 11);
    const auto want = reference_dequantize(format, blocks, rows * in);
    std::vector<float> got(want.size());
    cpu::dequantize_rows(format, blocks.data(), in, 0, rows, got.data());
    INFO("format " << static_cast<int>(format));
    CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
    // A range of rows starts at the right row.
    std::vector<float> tail(static_cast<size_t>(2 * in));
    cpu::dequantize_rows(format, blocks.data(), in, 4, 6, tail.data());
    CHECK(std::memcmp(tail.data(), want.data() + 4 * in, tail.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("quantized_gemv multiplies with exactly the dequantised weights", "[gguf][quantized]") {
  for (ElementType format : {ElementType::q8_0, ElementType::q4_1}) {
    INFO("format " << static_cast<int>(format));
    const int64_t rows = 5, in = 64;  // an odd row count exercises the kernel's single-row tail
    const auto blocks = random_blocks(format, rows, in, 21);
    const auto want = reference_dequantize(format, blocks, rows * in);
    // With x a unit vector every product but one is zero, so y is one weight, bit for bit.
    std::vector<float> x(static_cast<size_t>(in)), y(static_cast<size_t>(rows));
    size_t mismatches = 0;
    for (int64_t i = 0; i < in; ++i) {
      std::fill(x.begin(), x.end(), 0.0f);
      x[static_cast<size_t>(i)] = 1.0f;
      cpu::quantized_gemv(format, blocks.data(), in, x.data(), 0, rows, y.data());
      for (int64_t r = 0; r < rows; ++r) mismatches += y[static_cast<size_t>(r)] != want[static_cast<size_t>(r * in + i)];
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("quantized_gemv equals dequantise + naive dot up to summation order", "[gguf][quantized]") {
  for (ElementType format : {ElementType::q8_0, ElementType::q4_1}) {
    for (int64_t in : {32, 576, 1536}) {
      INFO("format " << static_cast<int>(format) << " in " << in);
      const int64_t rows = 67;
      const auto blocks = random_blocks(format, rows, in, 31 + static_cast<uint64_t>(in));
      const auto w = reference_dequantize(format, blocks, rows * in);
      const auto x = random_vector(static_cast<size_t>(in), 41);
      std::vector<float> y(static_cast<size_t>(rows - 3));
      cpu::quantized_gemv(format, blocks.data(), in, x.data(), 3, rows, y.data());
      double worst = 0;
      for (int64_t r = 3; r < rows; ++r) {
        double sum = 0, magnitude = 0;
        for (int64_t i = 0; i < in; ++i) {
          const double p = double(w[static_cast<size_t>(r * in + i)]) * x[static_cast<size_t>(i)];
          sum += p;
          magnitude += std::fabs(p);
        }
        // fp32 summation of `in` products in any order errs by at most ~in * 2^-24 * sum|p|; relative to
        // sum|p| the kernel must be far inside that.
        worst = std::max(worst, std::fabs(double(y[static_cast<size_t>(r - 3)]) - sum) / magnitude);
      }
      CHECK(worst < 2e-6);
    }
  }
}

TEST_CASE("CpuBackend::linear with quantised weights: GEMV and tiled-sgemm paths, bias, threads", "[gguf][quantized]") {
  for (unsigned threads : {1u, 3u}) {
    CpuBackend backend(CpuBackendOptions{.threads = threads, .exact_kernels = true});
    for (ElementType format : {ElementType::q8_0, ElementType::q4_1}) {
      for (int64_t rows : {1, 3, 40}) {
        INFO("threads " << threads << " format " << static_cast<int>(format) << " rows " << rows);
        const int64_t in = 1536, out = 600;  // three prefill tiles of 256 rows (384K floats / 1536)
        const auto blocks = random_blocks(format, out, in, 51);
        const auto w = reference_dequantize(format, blocks, out * in);
        const auto x = random_vector(static_cast<size_t>(rows * in), 61);
        const auto bias = random_vector(static_cast<size_t>(out), 71);
        LinearWeight lw;
        lw.type = format;
        lw.weight = blocks.data();
        lw.bias = bias.data();
        lw.out_features = out;
        lw.in_features = in;
        std::vector<float> y(static_cast<size_t>(rows * out), 123.0f);
        backend.linear(x.data(), rows, lw, y.data());
        double worst = 0;
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t o = 0; o < out; ++o) {
            double sum = bias[static_cast<size_t>(o)], magnitude = std::fabs(sum);
            for (int64_t i = 0; i < in; ++i) {
              const double p = double(w[static_cast<size_t>(o * in + i)]) * x[static_cast<size_t>(r * in + i)];
              sum += p;
              magnitude += std::fabs(p);
            }
            // Relative to the sum of |terms|, as fp32 rounding in any summation order is.
            worst = std::max(worst, std::fabs(double(y[static_cast<size_t>(r * out + o)]) - sum) / magnitude);
          }
        }
        CHECK(worst < 2e-6);
      }
    }
  }
}
