// Dequantisation of every supported ggml type against gguf-py's gguf.quants.dequantize, whose results
// make_quant_fixtures.py stored next to the quantised blocks in quants.gguf.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <string>

#include "model/weights/gguf_dequant.hpp"
#include "model/weights/gguf_file.hpp"

namespace {

const std::filesystem::path kQuants = std::filesystem::path(SABRE_TEST_FIXTURES) / "gguf" / "quants.gguf";

bool close_enough(float got, float want) {
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= 1e-6f * std::max(1.0f, std::fabs(want));
}

}  // namespace

TEST_CASE("ggml types dequantise like gguf-py", "[gguf][dequant]") {
  const auto file = sabre::GgufFile::open(kQuants);
  const auto type = GENERATE(as<std::string>{}, "F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1",
                             "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS");
  INFO("type " << type);
  const auto* quant = file.find_tensor("quant." + type);
  const auto* expected = file.find_tensor("expected." + type);
  REQUIRE(quant != nullptr);
  REQUIRE(expected != nullptr);
  CHECK(sabre::ggml_type_name(quant->raw_type) == type);
  CHECK(quant->torch_shape() == expected->torch_shape());

  const auto got = file.tensor_to_f32(*quant);
  const auto want = file.tensor_to_f32(*expected);
  REQUIRE(got.size() == want.size());
  size_t mismatches = 0;
  size_t first_bad = got.size();
  for (size_t i = 0; i < got.size(); ++i) {
    if (!close_enough(got[i], want[i])) {
      ++mismatches;
      if (first_bad == got.size()) first_bad = i;
    }
  }
  INFO("first mismatch at element " << first_bad << ": got "
                                    << (first_bad < got.size() ? got[first_bad] : 0.0f) << ", want "
                                    << (first_bad < got.size() ? want[first_bad] : 0.0f));
  CHECK(mismatches == 0);
  // The data must not be trivially zero (a decoder that wrote nothing would otherwise pass on zeros).
  size_t nonzero = 0;
  for (float v : want) nonzero += v != 0.0f;
  CHECK(nonzero > want.size() / 2);
}

TEST_CASE("dequantize_ggml refuses mismatched sizes", "[gguf][dequant]") {
  std::vector<std::byte> bytes(20);
  std::vector<float> out(31);
  CHECK_THROWS_WITH(sabre::dequantize_ggml(sabre::GgmlType::q4_1, bytes, out),
                    Catch::Contains("block size 32"));
  std::vector<float> out32(32);
  std::vector<std::byte> short_bytes(19);
  CHECK_THROWS_WITH(sabre::dequantize_ggml(sabre::GgmlType::q4_1, short_bytes, out32),
                    Catch::Contains("expected 20 bytes, got 19"));
}
