// The GGUF block formats kept quantised (their values against gguf-py are tests/unit/gguf's): the CPU
// products over a matrix stored in each format equal, bit for bit, the fp32 kernel over its decoded
// values, for a decode row alone and for batches through the in-register and the panel paths; plain
// types and rows that are not whole blocks are refused.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/quantized_gemv.hpp"
#include "kernels/cpu/row_invariant_gemm.hpp"
#include "kernels/checkpoint_blocks.hpp"
#include "kernels/quant_blocks.hpp"
#include "model/weights/gguf_dequant.hpp"
#include "model/weights/gguf_file.hpp"

using namespace sabre;

TEST_CASE("quant blocks: products over a matrix kept in each format are the fp32 kernel's over its values",
          "[kernels][quant]") {
  const auto file = GgufFile::open(std::filesystem::path(SABRE_TEST_FIXTURES) / "gguf" / "quants.gguf");
  const int64_t out = 29, in = 512;
  for (const char* name : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL",
                           "IQ4_XS"}) {
    INFO(name);
    const GgufTensorInfo* tensor = file.find_tensor(std::string("quant.") + name);
    REQUIRE(tensor != nullptr);
    const auto type = ggml_element_type(tensor->raw_type);
    REQUIRE(type.has_value());
    // The fixture's blocks (valid, with finite scales) repeated over [out, in].
    const size_t matrix_bytes = element_bytes(*type, out * in);
    std::vector<std::byte> matrix(matrix_bytes);
    for (size_t i = 0; i < matrix_bytes; ++i) matrix[i] = tensor->bytes[i % tensor->bytes.size()];
    std::vector<float> values(static_cast<size_t>(out * in));
    cpu::dequantize_rows(*type, matrix.data(), in, 0, out, values.data());
    std::vector<float> x(static_cast<size_t>(20 * in));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 101) / 50.0f - 1.0f;
    for (const int64_t rows : {1, 3, 6, 13, 20}) {
      INFO(rows << " rows");
      std::vector<float> packed(static_cast<size_t>(rows * out)), widened(packed.size());
      cpu::row_invariant_gemm(*type, matrix.data(), in, x.data(), rows, 0, out, nullptr, packed.data(), out);
      cpu::row_invariant_gemm(ElementType::f32, values.data(), in, x.data(), rows, 0, out, nullptr, widened.data(),
                              out);
      CHECK(std::memcmp(packed.data(), widened.data(), packed.size() * sizeof(float)) == 0);
    }
    std::vector<float> decode(static_cast<size_t>(out)), widened(decode.size());
    cpu::quantized_gemv(*type, matrix.data(), in, x.data(), 0, out, decode.data());
    cpu::f32_gemv(values.data(), in, x.data(), 0, out, widened.data());
    CHECK(std::memcmp(decode.data(), widened.data(), decode.size() * sizeof(float)) == 0);
    // The loader's widening gives the same values (one decoder for both).
    std::vector<float> loaded(static_cast<size_t>(out * in));
    dequantize_ggml(static_cast<GgmlType>(tensor->raw_type), matrix, loaded);
    CHECK(std::memcmp(loaded.data(), values.data(), loaded.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("quant blocks: plain types and rows of partial blocks are refused with the numbers", "[kernels][quant]") {
  CHECK(block_decoder(ElementType::f32) == nullptr);
  CHECK_THROWS_AS(dequantize_blocks(ElementType::bf16, nullptr, 1, nullptr), std::invalid_argument);
  std::vector<std::byte> blocks(element_bytes(ElementType::q4_k, 256));
  float y = 0;
  CHECK_THROWS_WITH(cpu::row_invariant_gemm(ElementType::q4_k, blocks.data(), 128, &y, 1, 0, 1, nullptr, &y, 1),
                    Catch::Contains("128") && Catch::Contains("256"));
  CHECK_THROWS_WITH(element_bytes(ElementType::iq4_xs, 300), Catch::Contains("iq4_xs") && Catch::Contains("256"));
}

TEST_CASE("quant blocks: the AVX2 decoders give the portable decoders' bits", "[kernels][quant]") {
  std::mt19937_64 rng(20261206);
  for (const ElementType type : {ElementType::q4_k, ElementType::q5_k, ElementType::q6_k, ElementType::iq4_xs}) {
    INFO(element_type_name(type));
    const size_t bytes = element_block_bytes(type);
    const int64_t elements = element_block_size(type);
    int64_t differing = 0;
    for (int block = 0; block < 200; ++block) {
      std::vector<std::byte> data(bytes);
      for (auto& b : data) b = static_cast<std::byte>(rng() & 0xFF);
      // Finite fp16 scales (Q4_K / Q5_K: d, dmin first; IQ4_XS: d first; Q6_K: d last) of either sign.
      const auto half = [&] { return static_cast<uint16_t>(((rng() & 1u) << 15) | ((5 + rng() % 9) << 10) | (rng() & 0x3FFu)); };
      const uint16_t d = half(), dmin = half();
      if (type == ElementType::iq4_xs) {
        std::memcpy(&data[0], &d, 2);  // the next two bytes are scales_h: any bits
      } else if (type != ElementType::q6_k) {
        std::memcpy(&data[0], &d, 2);
        std::memcpy(&data[2], &dmin, 2);
      } else {
        std::memcpy(&data[bytes - 2], &d, 2);
      }
      std::vector<float> fast(static_cast<size_t>(elements)), portable(fast.size());
      block_decoder(type)(data.data(), fast.data());
      portable_block_decoder(type)(data.data(), portable.data());
      differing += std::memcmp(fast.data(), portable.data(), fast.size() * sizeof(float)) != 0;
    }
    CHECK(differing == 0);
  }
}

TEST_CASE("quant blocks: the repacked checkpoint blocks multiply as their decoded values do, bit for bit",
          "[kernels][quant]") {
  const int64_t out = 29, in = 512;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> scale(1e-4f, 0.05f);
  for (const ElementType type : {ElementType::q4_z, ElementType::q8_z, ElementType::fp8_s}) {
    INFO(element_type_name(type));
    const size_t block_bytes = element_block_bytes(type);
    std::vector<std::byte> matrix(element_bytes(type, out * in));
    uint8_t q[32];
    for (size_t b = 0; b < matrix.size() / block_bytes; ++b) {
      for (uint8_t& v : q) {
        v = static_cast<uint8_t>(rng() % (type == ElementType::q4_z ? 16 : 256));
        if (type == ElementType::fp8_s && (v & 0x7F) == 0x7F) v = 0x7E;  // the loader refuses NaN codes
      }
      const auto zero = static_cast<uint8_t>(rng() % (type == ElementType::q4_z ? 17 : 256));
      std::byte* block = matrix.data() + b * block_bytes;
      if (type == ElementType::q4_z) encode_q4_z_block(scale(rng), zero, q, block);
      if (type == ElementType::q8_z) encode_q8_z_block(scale(rng), zero, q, block);
      if (type == ElementType::fp8_s) encode_fp8_s_block(scale(rng), q, block);
    }
    std::vector<float> values(static_cast<size_t>(out * in));
    cpu::dequantize_rows(type, matrix.data(), in, 0, out, values.data());
    std::vector<float> x(static_cast<size_t>(20 * in));
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 101) / 50.0f - 1.0f;
    for (const int64_t rows : {1, 3, 6, 13, 20}) {
      INFO(rows << " rows");
      std::vector<float> packed(static_cast<size_t>(rows * out)), widened(packed.size());
      cpu::row_invariant_gemm(type, matrix.data(), in, x.data(), rows, 0, out, nullptr, packed.data(), out);
      cpu::row_invariant_gemm(ElementType::f32, values.data(), in, x.data(), rows, 0, out, nullptr, widened.data(),
                              out);
      CHECK(std::memcmp(packed.data(), widened.data(), packed.size() * sizeof(float)) == 0);
    }
  }
}
