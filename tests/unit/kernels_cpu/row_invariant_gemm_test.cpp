// Batch invariance of the linear layers: every row of a multi-row product (kernels/cpu/row_invariant_gemm)
// must be bit-identical to the single-row kernels' result for that row alone, for fp32, bf16, f16, Q8_0
// and Q4_1 weights and any row count, and CpuBackend::linear in batch-invariant mode must give a row the same
// bits whether it comes alone, in a decode batch or inside a prefill chunk. Closeness to a naive
// double-precision product checks that the shared arithmetic is also right.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>

#include <immintrin.h>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/quantized_gemv.hpp"
#include "kernels/cpu/row_invariant_gemm.hpp"

using namespace sabre;

namespace {

std::vector<float> normal_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Random GGUF blocks: fp16 scales (and Q4_1 mins) of magnitude 2^-10..2^-4 with either sign, random
// quant bytes. Real scales sit in that range; it never makes inf or nan.
std::vector<std::byte> random_quant_blocks(ElementType format, int64_t rows, int64_t in, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t block_bytes = format == ElementType::q8_0 ? 34 : 20;
  const size_t half_count = format == ElementType::q8_0 ? 1 : 2;
  std::vector<std::byte> out(static_cast<size_t>(rows * in / 32) * block_bytes);
  for (size_t b = 0; b < out.size(); b += block_bytes) {
    for (size_t h = 0; h < half_count; ++h) {
      const auto half = static_cast<uint16_t>(((rng() & 1u) << 15) | ((5 + rng() % 7) << 10) | (rng() & 0x3FFu));
      std::memcpy(&out[b + 2 * h], &half, 2);
    }
    for (size_t i = 2 * half_count; i < block_bytes; ++i) out[b + i] = static_cast<std::byte>(rng() & 0xFF);
  }
  return out;
}

std::string format_name(ElementType format) { return std::string(element_type_name(format)); }

// fp32 values rounded to bf16 or f16 (to nearest even), as 16-bit words.
std::vector<std::byte> random_halves(ElementType format, size_t n, uint64_t seed) {
  const auto values = normal_floats(n, seed);
  std::vector<std::byte> out(2 * n);
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    if (format == ElementType::f16) {
      h = _cvtss_sh(values[i], _MM_FROUND_TO_NEAREST_INT);
    } else {
      uint32_t bits;
      std::memcpy(&bits, &values[i], 4);
      h = static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
    }
    std::memcpy(&out[2 * i], &h, 2);
  }
  return out;
}

// A weight matrix in one format, with its exact fp32 values for the reference product.
struct TestMatrix {
  ElementType format;
  int64_t out, in;
  std::vector<float> values;       // [out, in] as the kernels see them (converted for the other formats)
  std::vector<std::byte> blocks;   // the stored form, empty for f32

  TestMatrix(ElementType f, int64_t out_features, int64_t in_features, uint64_t seed)
      : format(f), out(out_features), in(in_features) {
    if (format == ElementType::f32) {
      values = normal_floats(static_cast<size_t>(out * in), seed);
    } else {
      blocks = is_packed(format) ? random_quant_blocks(format, out, in, seed)
                                 : random_halves(format, static_cast<size_t>(out * in), seed);
      values.resize(static_cast<size_t>(out * in));
      cpu::dequantize_rows(format, blocks.data(), in, 0, out, values.data());
    }
  }
  const void* weight() const {
    return format == ElementType::f32 ? static_cast<const void*>(values.data()) : static_cast<const void*>(blocks.data());
  }
  LinearWeight linear(const float* bias) const {
    LinearWeight w;
    w.type = format;
    w.weight = weight();
    w.bias = bias;
    w.out_features = out;
    w.in_features = in;
    return w;
  }
  // The single-row kernel's y[o - begin] for o in [begin, end): what a decode row alone gets.
  void single_row(const float* x, int64_t begin, int64_t end, float* y) const {
    if (format == ElementType::f32) cpu::f32_gemv(values.data(), in, x, begin, end, y);
    else cpu::quantized_gemv(format, blocks.data(), in, x, begin, end, y);
  }
};

// |y - exact| / sum |terms| over every element: fp32 summation in any fixed order stays far below
// in * 2^-24 of it; a wrong weight, lane or element would show as order 1.
double worst_relative_error(const TestMatrix& m, const std::vector<float>& x, int64_t rows, const float* bias,
                            const std::vector<float>& y) {
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t o = 0; o < m.out; ++o) {
      double sum = bias ? bias[o] : 0.0, magnitude = std::fabs(sum);
      for (int64_t i = 0; i < m.in; ++i) {
        const double p = double(m.values[static_cast<size_t>(o * m.in + i)]) * x[static_cast<size_t>(r * m.in + i)];
        sum += p;
        magnitude += std::fabs(p);
      }
      worst = std::max(worst, std::fabs(double(y[static_cast<size_t>(r * m.out + o)]) - sum) / magnitude);
    }
  }
  return worst;
}

bool rows_equal(const float* a, const float* b, int64_t count) {
  return std::memcmp(a, b, static_cast<size_t>(count) * sizeof(float)) == 0;
}

struct Shape {
  ElementType format;
  int64_t in;
};

// fp32 and 16-bit rows with odd widths (a scalar tail after the vector span, or nothing but a tail) and
// with whole 16-float steps; the quantised formats in whole 32-weight blocks.
const Shape kShapes[] = {{ElementType::f32, 7},    {ElementType::f32, 37},    {ElementType::f32, 64},
                         {ElementType::f32, 579},  {ElementType::bf16, 7},   {ElementType::bf16, 579},
                         {ElementType::f16, 37},   {ElementType::f16, 576},  {ElementType::q8_0, 32},
                         {ElementType::q8_0, 576}, {ElementType::q4_1, 32},  {ElementType::q4_1, 576}};

}  // namespace

TEST_CASE("row_invariant_gemm: every row of 1..70 rows equals the single-row kernel bit for bit",
          "[kernels][batch_invariance]") {
  const int64_t out = 29;  // not a multiple of any column tile: exercises the one-column tail
  for (const Shape& shape : kShapes) {
    const TestMatrix m(shape.format, out, shape.in, 100 + static_cast<uint64_t>(shape.in));
    const auto bias = normal_floats(static_cast<size_t>(out), 7);
    const auto x = normal_floats(static_cast<size_t>(70 * shape.in), 8);
    // What each row gets alone, from the single-row kernels (and the bias added after, as decode does).
    std::vector<float> alone(static_cast<size_t>(70 * out));
    for (int64_t r = 0; r < 70; ++r) m.single_row(x.data() + r * shape.in, 0, out, alone.data() + r * out);
    std::vector<float> alone_biased = alone;
    for (int64_t r = 0; r < 70; ++r) {
      for (int64_t o = 0; o < out; ++o) alone_biased[static_cast<size_t>(r * out + o)] += bias[static_cast<size_t>(o)];
    }
    for (int64_t rows = 1; rows <= 70; ++rows) {
      for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
        INFO(format_name(shape.format) << " in " << shape.in << " rows " << rows << (b ? " with bias" : ""));
        std::vector<float> y(static_cast<size_t>(rows * out), -1.0f);
        cpu::row_invariant_gemm(shape.format, m.weight(), shape.in, x.data(), rows, 0, out, b, y.data(), out);
        int64_t differing_rows = 0;
        for (int64_t r = 0; r < rows; ++r) {
          differing_rows += !rows_equal(y.data() + r * out, (b ? alone_biased : alone).data() + r * out, out);
        }
        CHECK(differing_rows == 0);
        if (rows == 70 || rows == 13) CHECK(worst_relative_error(m, x, rows, b, y) < 2e-6);
      }
    }
  }
}

TEST_CASE("row_invariant_gemm: output ranges land at y, with the row stride, and match the full product",
          "[kernels][batch_invariance]") {
  for (const Shape& shape : kShapes) {
    const int64_t out = 41, rows = 9;
    const TestMatrix m(shape.format, out, shape.in, 200 + static_cast<uint64_t>(shape.in));
    const auto x = normal_floats(static_cast<size_t>(rows * shape.in), 9);
    std::vector<float> full(static_cast<size_t>(rows * out));
    cpu::row_invariant_gemm(shape.format, m.weight(), shape.in, x.data(), rows, 0, out, nullptr, full.data(), out);
    // Outputs [5, 22) written into column 3.. of a wider matrix; the rest must stay untouched.
    const int64_t stride = 30, begin = 5, end = 22, column = 3;
    std::vector<float> wide(static_cast<size_t>(rows * stride), 42.0f);
    cpu::row_invariant_gemm(shape.format, m.weight(), shape.in, x.data(), rows, begin, end, nullptr,
                            wide.data() + column, stride);
    INFO(format_name(shape.format) << " in " << shape.in);
    int64_t wrong = 0;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < stride; ++c) {
        const float got = wide[static_cast<size_t>(r * stride + c)];
        const bool inside = c >= column && c < column + (end - begin);
        const float want = inside ? full[static_cast<size_t>(r * out + begin + c - column)] : 42.0f;
        wrong += std::memcmp(&got, &want, sizeof(float)) != 0;
      }
    }
    CHECK(wrong == 0);
  }
}

TEST_CASE("row_invariant_gemm rejects what it cannot multiply", "[kernels][batch_invariance]") {
  std::vector<std::byte> blocks(34 * 2);
  std::vector<float> x(48), y(2);
  CHECK_THROWS_WITH(cpu::row_invariant_gemm(ElementType::q8_0, blocks.data(), 48, x.data(), 1, 0, 1, nullptr,
                                            y.data(), 1),
                    Catch::Contains("48") && Catch::Contains("32"));
  CHECK_THROWS_WITH(cpu::row_invariant_gemm(ElementType::f32, x.data(), 8, x.data(), 1, 3, 2, nullptr, y.data(), 1),
                    Catch::Contains("[3, 2)"));
}

TEST_CASE("CpuBackend batch-invariant linear: 57 rows in one call equal the rows one at a time, bitwise",
          "[kernels][batch_invariance]") {
  const int64_t rows = 57;
  for (unsigned threads : {1u, 3u}) {
    CpuBackend backend(CpuBackendOptions{threads, /*batch_invariant=*/true});
    REQUIRE(backend.batch_invariant());
    for (const Shape& shape : {Shape{ElementType::f32, 579}, Shape{ElementType::bf16, 579}, Shape{ElementType::f16, 576},
                               Shape{ElementType::q8_0, 576}, Shape{ElementType::q4_1, 576}}) {
      const int64_t out = 600;  // several output runs per thread, a run boundary inside column tiles
      const TestMatrix m(shape.format, out, shape.in, 300 + threads);
      const auto bias = normal_floats(static_cast<size_t>(out), 10);
      const auto x = normal_floats(static_cast<size_t>(rows * shape.in), 11);
      for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
        INFO("threads " << threads << " " << format_name(shape.format) << (b ? " with bias" : ""));
        const LinearWeight w = m.linear(b);
        std::vector<float> together(static_cast<size_t>(rows * out));
        backend.linear(x.data(), rows, w, together.data());
        CHECK(worst_relative_error(m, x, rows, b, together) < 2e-6);
        // One row at a time (decode of a single sequence) ...
        std::vector<float> one(static_cast<size_t>(out));
        int64_t differing = 0;
        for (int64_t r = 0; r < rows; ++r) {
          backend.linear(x.data() + r * shape.in, 1, w, one.data());
          differing += !rows_equal(one.data(), together.data() + r * out, out);
        }
        CHECK(differing == 0);
        // ... and in uneven chunks (decode batches and prefill chunks of other sizes).
        std::vector<float> chunked(static_cast<size_t>(rows * out));
        for (int64_t begin = 0, size = 1; begin < rows; begin += size, size = size * 3 + 1) {
          const int64_t count = std::min(size, rows - begin);
          backend.linear(x.data() + begin * shape.in, count, w, chunked.data() + begin * out);
        }
        CHECK(rows_equal(chunked.data(), together.data(), rows * out));
      }
    }
  }
}

TEST_CASE("CpuBackend with exact kernels decodes exactly as batch-invariant mode (the same kernel for few rows)",
          "[kernels][batch_invariance]") {
  CpuBackend invariant(CpuBackendOptions{2, true});
  CpuBackend exact(CpuBackendOptions{.threads = 2, .exact_kernels = true});
  for (const Shape& shape : {Shape{ElementType::f32, 64}, Shape{ElementType::q8_0, 576}, Shape{ElementType::q4_1, 576}}) {
    const int64_t out = 200, rows = 20;
    const TestMatrix m(shape.format, out, shape.in, 400);
    const auto x = normal_floats(static_cast<size_t>(rows * shape.in), 12);
    const LinearWeight w = m.linear(nullptr);
    std::vector<float> prefill(static_cast<size_t>(rows * out)), decode(static_cast<size_t>(4 * out));
    invariant.linear(x.data(), rows, w, prefill.data());
    exact.linear(x.data() + 16 * shape.in, 4, w, decode.data());  // a decode step of four sequences
    INFO(format_name(shape.format));
    CHECK(rows_equal(decode.data(), prefill.data() + 16 * out, 4 * out));
  }
}

TEST_CASE("16-bit weights give the bits an fp32 copy of the same values gives, in either mode and any rows",
          "[kernels][batch_invariance]") {
  for (bool invariant : {true, false}) {
    CpuBackend backend(CpuBackendOptions{2, invariant});
    for (ElementType format : {ElementType::bf16, ElementType::f16}) {
      const int64_t out = 300, in = 576;
      const TestMatrix half(format, out, in, 500);
      const LinearWeight w16 = half.linear(nullptr);
      const LinearWeight w32{half.values.data(), nullptr, out, in, ElementType::f32};
      for (int64_t rows : {1, 5, 16, 40}) {
        INFO((invariant ? "batch-invariant " : "default ") << format_name(format) << " rows " << rows);
        const auto x = normal_floats(static_cast<size_t>(rows * in), 13);
        std::vector<float> a(static_cast<size_t>(rows * out)), b(a.size());
        backend.linear(x.data(), rows, w16, a.data());
        backend.linear(x.data(), rows, w32, b.data());
        // Up to 16 rows both take the row-invariant kernel on the same values: equal bits. Beyond, the
        // default mode's sgemm runs over converted tiles rather than the whole matrix: equal to rounding.
        if (invariant || rows <= 16) {
          CHECK(rows_equal(a.data(), b.data(), rows * out));
        } else {
          CHECK(worst_relative_error(half, x, rows, nullptr, a) < 2e-6);
        }
      }
    }
  }
}
