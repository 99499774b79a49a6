// The int8-activation decode path (kernels/cpu/int8_dot_gemm.hpp): for every format it reads, each dot
// product is within the stated bound of the exact one (sum |w| * dx / 2 over the row, plus fp32
// rounding), a row's result does not depend on the other rows, and CpuBackend sends decode rows through
// it unless exact kernels (or batch invariance) are asked for.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "kernels/checkpoint_blocks.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/int8_dot_gemm.hpp"
#include "kernels/cpu/quantized_gemv.hpp"
#include "kernels/cpu/row_invariant_gemm.hpp"
#include "model/weights/gguf_dequant.hpp"
#include "model/weights/gguf_file.hpp"

using namespace sabre;

namespace {

constexpr int64_t kOut = 37, kIn = 576;  // SmolLM2's hidden size: 18 blocks per row

// Inputs per row for a format: SmolLM2's hidden size, or its MLP width for the 256-element K-quants.
int64_t inputs_of(ElementType format) { return element_block_size(format) == 256 ? 1536 : kIn; }

// A [kOut, kIn] matrix of `format`: GGUF formats from the quants.gguf fixture's valid blocks repeated,
// the repacked checkpoint blocks encoded from random integers and scales.
std::vector<std::byte> matrix_of(ElementType format) {
  std::vector<std::byte> m(element_bytes(format, kOut * inputs_of(format)));
  std::mt19937 rng(11);
  if (format == ElementType::q4_z || format == ElementType::q8_z) {
    const size_t block_bytes = element_block_bytes(format);
    uint8_t q[32];
    for (size_t b = 0; b < m.size() / block_bytes; ++b) {
      for (uint8_t& v : q) v = static_cast<uint8_t>(rng() % (format == ElementType::q4_z ? 16 : 256));
      const float scale = std::ldexp(1.0f + static_cast<float>(rng() % 100) / 100.0f, -8);
      const auto zero = static_cast<uint8_t>(rng() % (format == ElementType::q4_z ? 17 : 256));
      if (format == ElementType::q4_z) encode_q4_z_block(scale, zero, q, m.data() + b * block_bytes);
      if (format == ElementType::q8_z) encode_q8_z_block(scale, zero, q, m.data() + b * block_bytes);
    }
    return m;
  }
  const auto file = GgufFile::open(std::filesystem::path(SABRE_TEST_FIXTURES) / "gguf" / "quants.gguf");
  const std::string name = "quant." + [&] {
    std::string upper(element_type_name(format));
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return upper;
  }();
  const GgufTensorInfo* tensor = file.find_tensor(name);
  REQUIRE(tensor != nullptr);
  for (size_t i = 0; i < m.size(); ++i) m[i] = tensor->bytes[i % tensor->bytes.size()];
  return m;
}

std::vector<float> activations(int64_t rows, int64_t in = kIn) {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * in));
  for (float& v : x) v = normal(rng);
  return x;
}

// One format's test matrix (and its exact values) against `rows` random activation rows, quantised.
struct Int8Case {
  Int8Case(ElementType format, int64_t rows)
      : weight(matrix_of(format)), in(inputs_of(format)), values(static_cast<size_t>(kOut * in)), x(activations(rows, in)) {
    cpu::dequantize_rows(format, weight.data(), in, 0, kOut, values.data());
    cpu::quantize_activations(x.data(), rows, in, qx);
  }
  std::vector<std::byte> weight;
  int64_t in;
  std::vector<float> values;
  std::vector<float> x;
  cpu::QuantizedActivations qx;
};

const ElementType kFormats[] = {ElementType::q8_0, ElementType::q4_0, ElementType::q4_1, ElementType::q5_0,
                                ElementType::q5_1, ElementType::iq4_nl, ElementType::q4_z, ElementType::q8_z,
                                ElementType::q3_k, ElementType::q4_k, ElementType::q5_k, ElementType::q6_k,
                                ElementType::iq4_xs};

}  // namespace

TEST_CASE("int8 dot products stay within the activation rounding's bound of the exact products", "[kernels][int8]") {
  for (const ElementType format : kFormats) {
    INFO(element_type_name(format));
    REQUIRE(cpu::int8_dot_supports(format));
    const int64_t rows = 13;
    const Int8Case c(format, rows);
    const auto& [weight, in, values, x, qx] = c;
    std::vector<float> bias(kOut, 0.25f), y(static_cast<size_t>(rows * kOut));
    cpu::int8_dot_gemm(format, weight.data(), qx, 0, kOut, bias.data(), y.data(), kOut);
    double worst_share = 0;  // the largest error as a share of its bound
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < kOut; ++o) {
        double exact = bias[static_cast<size_t>(o)], magnitude = 0;
        for (int64_t i = 0; i < in; ++i) {
          const double term = double(values[static_cast<size_t>(o * in + i)]) * x[static_cast<size_t>(r * in + i)];
          exact += term;
          magnitude += std::fabs(term);
        }
        const double bound = cpu::int8_dot_error_bound(format, weight.data(), in, o, qx, r) + 1e-5 * magnitude;
        const double error = std::fabs(y[static_cast<size_t>(r * kOut + o)] - exact);
        worst_share = std::max(worst_share, error / bound);
        REQUIRE(error <= bound);
      }
    }
    INFO("worst error / bound " << worst_share);
    CHECK(worst_share > 0.001);  // the activations really are rounded
  }
}

TEST_CASE("int8 dot products equal the exact weights times the rounded activations, to fp32 rounding", "[kernels][int8]") {
  // The integer products are exact, so what is left is fp32 rounding of the per-block scaling and sums:
  // a tight check that every block meets its own row's scale, minimum and activations (the error bound
  // above is loose enough to pass a block scaled by a neighbour's scale).
  for (const ElementType format : kFormats) {
    INFO(element_type_name(format));
    const int64_t rows = 6;
    const Int8Case c(format, rows);
    const auto& [weight, in, values, x, qx] = c;
    std::vector<float> y(static_cast<size_t>(rows * kOut));
    cpu::int8_dot_gemm(format, weight.data(), qx, 0, kOut, nullptr, y.data(), kOut);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t o = 0; o < kOut; ++o) {
        double want = 0, magnitude = 0;
        for (int64_t i = 0; i < in; ++i) {
          const size_t at = static_cast<size_t>(r * in + i);
          const double rounded = double(qx.scales[at / 32]) * qx.values[at];
          const double term = double(values[static_cast<size_t>(o * in + i)]) * rounded;
          want += term;
          magnitude += std::fabs(term);
        }
        INFO("row " << r << ", output " << o);
        REQUIRE(std::fabs(y[static_cast<size_t>(r * kOut + o)] - want) <= 2e-6 * magnitude + 1e-6);
      }
    }
  }
}

TEST_CASE("an int8-dot row's result does not depend on the rows beside it or the output split", "[kernels][int8]") {
  for (const ElementType format : kFormats) {
    INFO(element_type_name(format));
    const auto weight = matrix_of(format);
    const int64_t in = inputs_of(format);
    const auto x = activations(16, in);
    cpu::QuantizedActivations all, one;
    cpu::quantize_activations(x.data(), 16, in, all);
    std::vector<float> together(16 * kOut), alone(kOut);
    cpu::int8_dot_gemm(format, weight.data(), all, 0, kOut, nullptr, together.data(), kOut);
    for (const int64_t r : {0, 7, 9, 15}) {
      cpu::quantize_activations(x.data() + r * in, 1, in, one);
      cpu::int8_dot_gemm(format, weight.data(), one, 0, 20, nullptr, alone.data(), kOut);
      cpu::int8_dot_gemm(format, weight.data(), one, 20, kOut, nullptr, alone.data() + 20, kOut);
      CHECK(std::memcmp(alone.data(), together.data() + r * kOut, kOut * sizeof(float)) == 0);
    }
  }
}

TEST_CASE("CpuBackend decodes quantised matrices through int8 dots unless exact kernels are asked for", "[kernels][int8]") {
  CpuBackend fast(CpuBackendOptions{.threads = 3});
  CpuBackend exact(CpuBackendOptions{.threads = 3, .exact_kernels = true});
  for (const ElementType format : {ElementType::q4_1, ElementType::q8_0, ElementType::q4_z}) {
    INFO(element_type_name(format));
    const int64_t out = 300;  // several output runs over the pool
    std::vector<std::byte> weight(element_bytes(format, out * kIn));
    const auto block = matrix_of(format);
    for (size_t i = 0; i < weight.size(); ++i) weight[i] = block[i % block.size()];
    LinearWeight w;
    w.type = format;
    w.weight = weight.data();
    w.out_features = out;
    w.in_features = kIn;
    const auto x = activations(4);
    std::vector<float> by_backend(4 * out), direct(4 * out), exact_y(4 * out), reference(4 * out);
    fast.linear(x.data(), 4, w, by_backend.data());
    cpu::QuantizedActivations qx;
    cpu::quantize_activations(x.data(), 4, kIn, qx);
    cpu::int8_dot_gemm(format, weight.data(), qx, 0, out, nullptr, direct.data(), out);
    CHECK(by_backend == direct);
    exact.linear(x.data(), 4, w, exact_y.data());
    cpu::row_invariant_gemm(format, weight.data(), kIn, x.data(), 4, 0, out, nullptr, reference.data(), out);
    CHECK(exact_y == reference);
    CHECK(exact_y != by_backend);
  }
  // A format the int8 path does not read goes through the exact kernel by default too.
  const auto file = GgufFile::open(std::filesystem::path(SABRE_TEST_FIXTURES) / "gguf" / "quants.gguf");
  const GgufTensorInfo* q2k = file.find_tensor("quant.Q2_K");
  REQUIRE(q2k != nullptr);
  CHECK_FALSE(cpu::int8_dot_supports(ElementType::q2_k));
  std::vector<std::byte> weight(element_bytes(ElementType::q2_k, 8 * 512));
  for (size_t i = 0; i < weight.size(); ++i) weight[i] = q2k->bytes[i % q2k->bytes.size()];
  LinearWeight w{weight.data(), nullptr, 8, 512, ElementType::q2_k};
  std::vector<float> x(2 * 512, 0.5f), a(16), b(16);
  fast.linear(x.data(), 2, w, a.data());
  exact.linear(x.data(), 2, w, b.data());
  CHECK(a == b);
}

TEST_CASE("activations are quantised per block of 32 to the nearest multiple of max|x| / 127", "[kernels][int8]") {
  auto x = activations(3);
  std::fill(x.begin() + 32, x.begin() + 64, 0.0f);  // an all-zero block: scale 0, values 0
  x[70] = 1e6f;                                     // one huge value flattens its block to 0 and +-127
  cpu::QuantizedActivations q;
  cpu::quantize_activations(x.data(), 3, kIn, q);
  for (int64_t b = 0; b < 3 * kIn / 32; ++b) {
    float amax = 0;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[static_cast<size_t>(b * 32 + i)]));
    const float d = amax / 127.0f;
    REQUIRE(q.scales[static_cast<size_t>(b)] == d);
    int sum = 0;
    for (int i = 0; i < 32; ++i) {
      const size_t at = static_cast<size_t>(b * 32 + i);
      const auto want = static_cast<int8_t>(d > 0 ? std::lrintf(x[at] * (1.0f / d)) : 0);
      REQUIRE(q.values[at] == want);
      sum += want;
    }
    REQUIRE(q.sums[static_cast<size_t>(b)] == d * static_cast<float>(sum));
  }
  CHECK(q.values[70] == 127);
  CHECK(q.scales[1] == 0.0f);
  CHECK_THROWS_WITH(cpu::quantize_activations(x.data(), 1, 100, q), Catch::Contains("100 inputs"));
}
