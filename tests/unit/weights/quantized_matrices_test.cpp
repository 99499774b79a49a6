// The repacking of quantised layers (model/weights/quantized_matrices.hpp) on hand-made tensors: values
// put back in their input columns exactly, and every malformed part named with what was expected.

#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "config/quantization_config.hpp"
#include "kernels/float16.hpp"
#include "kernels/quant_blocks.hpp"
#include "model/weights/quantized_matrices.hpp"
#include "model/weights/quantized_source.hpp"

using namespace sabre;
using Catch::Contains;

namespace {

// Tensors held in memory, by name.
class MemorySource final : public WeightSource {
 public:
  template <class T>
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const std::vector<T>& values) {
    Stored& s = tensors_[name];
    s.bytes.resize(values.size() * sizeof(T));
    std::memcpy(s.bytes.data(), values.data(), s.bytes.size());
    s.view = TensorView{};
    s.view.name = name;
    s.view.dtype = dtype;
    s.view.shape = std::move(shape);
    s.view.bytes = s.bytes;
    s.view.origin = "memory";
  }
  void remove(const std::string& name) { tensors_.erase(name); }
  const TensorView* find(std::string_view name) const override {
    const auto it = tensors_.find(std::string(name));
    return it == tensors_.end() ? nullptr : &it->second.view;
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [name, s] : tensors_) out.push_back(name);
    return out;
  }
  std::string description() const override { return "memory"; }

 private:
  struct Stored {
    std::vector<std::byte> bytes;
    TensorView view;
  };
  std::map<std::string, Stored> tensors_;
};

QuantizationConfig gptq_config(int64_t bits, int64_t group_size) {
  QuantizationConfig c;
  c.method = "gptq";
  c.bits = bits;
  c.group_size = group_size;
  c.checkpoint_format = "gptq";
  return c;
}

std::vector<float> dequantized(const RepackedMatrix& m) {
  std::vector<float> out(static_cast<size_t>(m.rows * m.columns));
  dequantize_blocks(m.packed.type, m.packed.bytes.data(), m.rows * m.columns / 32, out.data());
  return out;
}

// A 4-bit GPTQ layer of `out` x 64 with groups of 32: q(o, i) = (o + 3i) % 16, zero (stored) = g + o % 3,
// scale = 0.5 + o + g / 4, so that every value is distinct enough to catch a misplaced nibble.
void add_gptq_layer(MemorySource& s, int64_t out, const std::vector<int32_t>& g_idx = {}) {
  const int64_t in = 64, groups = 2;
  std::vector<uint32_t> qweight(static_cast<size_t>(in / 8 * out), 0);
  for (int64_t i = 0; i < in; ++i) {
    for (int64_t o = 0; o < out; ++o) {
      qweight[static_cast<size_t>((i / 8) * out + o)] |= static_cast<uint32_t>((o + 3 * i) % 16) << (4 * (i % 8));
    }
  }
  std::vector<uint32_t> qzeros(static_cast<size_t>(groups * out / 8), 0);
  std::vector<uint16_t> scales(static_cast<size_t>(groups * out));
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t o = 0; o < out; ++o) {
      qzeros[static_cast<size_t>(g * out / 8 + o / 8)] |= static_cast<uint32_t>(g + o % 3) << (4 * (o % 8));
      const float scale = 0.5f + static_cast<float>(o) + static_cast<float>(g) / 4;
      scales[static_cast<size_t>(g * out + o)] = f32_to_f16(scale);
    }
  }
  s.add("l.qweight", DType::i32, {in / 8, out}, qweight);
  s.add("l.qzeros", DType::i32, {groups, out / 8}, qzeros);
  s.add("l.scales", DType::f16, {groups, out}, scales);
  if (!g_idx.empty()) s.add("l.g_idx", DType::i32, {in}, g_idx);
}

}  // namespace

namespace {

float expected_gptq(int64_t out, int64_t o, int64_t i, int64_t g) {
  (void)out;
  const float scale = 0.5f + static_cast<float>(o) + static_cast<float>(g) / 4;
  const int64_t zero = g + o % 3 + 1;  // the v1 format stores zero - 1
  return scale * static_cast<float>((o + 3 * i) % 16 - zero);
}

}  // namespace

TEST_CASE("GPTQ layers are repacked into q4_z with every value in its place", "[weights][quant]") {
  MemorySource s;
  add_gptq_layer(s, 16);
  const auto m = read_quantized_matrix(s, "l", gptq_config(4, 32));
  REQUIRE(m);
  CHECK(m->rows == 16);
  CHECK(m->columns == 64);
  CHECK(m->packed.type == ElementType::q4_z);
  CHECK(m->packed.input_order.empty());
  const std::vector<float> values = dequantized(*m);
  for (int64_t o = 0; o < 16; ++o) {
    for (int64_t i = 0; i < 64; ++i) {
      INFO("output " << o << ", input " << i);
      REQUIRE(values[static_cast<size_t>(o * 64 + i)] == expected_gptq(16, o, i, i / 32));
    }
  }
  CHECK_FALSE(read_quantized_matrix(s, "absent", gptq_config(4, 32)).has_value());
}

TEST_CASE("act-order GPTQ layers keep each group contiguous and say which input each column holds", "[weights][quant]") {
  MemorySource s;
  std::vector<int32_t> g_idx(64);
  for (int32_t i = 0; i < 64; ++i) g_idx[static_cast<size_t>(i)] = (i / 4) % 2;  // groups interleaved by fours
  add_gptq_layer(s, 8, g_idx);
  const auto m = read_quantized_matrix(s, "l", gptq_config(4, 32));
  REQUIRE(m);
  REQUIRE(m->packed.input_order.size() == 64);
  const std::vector<float> values = dequantized(*m);
  for (int64_t o = 0; o < 8; ++o) {
    for (int64_t j = 0; j < 64; ++j) {
      const int32_t input = m->packed.input_order[static_cast<size_t>(j)];
      CHECK(g_idx[static_cast<size_t>(input)] == j / 32);
      REQUIRE(values[static_cast<size_t>(o * 64 + j)] == expected_gptq(8, o, input, g_idx[static_cast<size_t>(input)]));
    }
  }
}

TEST_CASE("malformed quantised layers are errors naming the tensor and what was expected", "[weights][quant]") {
  SECTION("a missing part") {
    MemorySource s;
    add_gptq_layer(s, 8);
    s.remove("l.qzeros");
    CHECK_THROWS_WITH(read_quantized_matrix(s, "l", gptq_config(4, 32)),
                      Contains("'l.qzeros'") && Contains("GPTQ zero points") && Contains("missing"));
  }
  SECTION("scales that do not match the config's group size") {
    MemorySource s;
    add_gptq_layer(s, 8);
    CHECK_THROWS_WITH(read_quantized_matrix(s, "l", gptq_config(4, 64)),
                      Contains("'l.scales'") && Contains("has 2 groups") && Contains("groups of 64"));
  }
  SECTION("a g_idx naming a group that has no scales") {
    MemorySource s;
    add_gptq_layer(s, 8, std::vector<int32_t>(64, 5));
    CHECK_THROWS_WITH(read_quantized_matrix(s, "l", gptq_config(4, 32)), Contains("g_idx names group 5 of 2"));
  }
  SECTION("groups of fewer than 32 inputs") {
    MemorySource s;
    std::vector<int32_t> g_idx(64, 1);
    std::fill(g_idx.begin(), g_idx.begin() + 16, 0);
    add_gptq_layer(s, 8, g_idx);
    CHECK_THROWS_WITH(read_quantized_matrix(s, "l", gptq_config(4, 32)),
                      Contains("l.qweight") && Contains("span two groups"));
  }
  SECTION("an AWQ part in a GPTQ checkpoint's config, and FP8 without scales") {
    MemorySource s;
    add_gptq_layer(s, 8);
    QuantizationConfig fp8;
    fp8.method = "fp8";
    CHECK_THROWS_WITH(read_quantized_matrix(s, "l", fp8), Contains("'l.qweight'") && Contains("quant_method is fp8"));
    s.add("f.weight", DType::f8_e4m3, {2, 32}, std::vector<uint8_t>(64, 0x38));
    CHECK_THROWS_WITH(read_quantized_matrix(s, "f", fp8), Contains("'f.weight'") && Contains("neither weight_scale_inv"));
    s.add("f.weight_scale_inv", DType::f32, {3, 3}, std::vector<float>(9, 1.0f));
    fp8.weight_block_size = {32, 32};
    CHECK_THROWS_WITH(read_quantized_matrix(s, "f", fp8), Contains("'f.weight_scale_inv'") && Contains("[1, 1]"));
  }
}

TEST_CASE("a quantised source shows each layer as one packed weight and hides its parts", "[weights][quant]") {
  auto stored = std::make_unique<MemorySource>();
  add_gptq_layer(*stored, 8);
  stored->add("norm.weight", DType::f32, {4}, std::vector<float>{1, 2, 3, 4});
  const QuantizedSource source(std::move(stored), gptq_config(4, 32));
  CHECK(source.names() == std::vector<std::string>{"l.weight", "norm.weight"});
  const TensorView* w = source.find("l.weight");
  REQUIRE(w != nullptr);
  CHECK(w->dtype == DType::packed);
  CHECK(w->packed_type == ElementType::q4_z);
  CHECK(w->shape == std::vector<int64_t>{8, 64});
  CHECK(load_f32(source, "l.weight", {8, 64})[1] == expected_gptq(8, 0, 1, 0));
  source.drop_pages("l.weight");
  REQUIRE(source.find("l.weight") != nullptr);  // repacked again
  CHECK(source.find("norm.weight")->dtype == DType::f32);
  CHECK(source.find("l.qzeros") != nullptr);  // the parts stay reachable by their own names
  CHECK_THAT(source.description(), Contains("memory (gptq, 4-bit, group size 32"));
}
