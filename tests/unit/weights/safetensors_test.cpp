// Safetensors loading: the committed fixtures (single file, bf16, two shards) and broken files written on
// the fly, whose error messages must name the file, the tensor and the expectation.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "model/weights/dtype_convert.hpp"
#include "model/weights/mapped_file.hpp"
#include "model/weights/safetensors.hpp"

using namespace sabre;
namespace fs = std::filesystem;

namespace {

const fs::path kModels = fs::path(SABRE_TEST_FIXTURES) / "models";

// A fresh temporary directory, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::mt19937_64 rng{std::random_device{}()};
    path = fs::temp_directory_path() / fmt_name(rng());
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static std::string fmt_name(uint64_t r) { return "sabre_weights_test_" + std::to_string(r); }
};

// Writes a safetensors file from a header text and raw data bytes.
void write_safetensors(const fs::path& path, const std::string& header, const std::string& data,
                       uint64_t header_length_override = 0) {
  std::ofstream out(path, std::ios::binary);
  uint64_t length = header_length_override ? header_length_override : header.size();
  out.write(reinterpret_cast<const char*>(&length), 8);
  out << header << data;
}

std::string floats_as_bytes(const std::vector<float>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4);
}

std::string error_opening(const fs::path& path) {
  try {
    SafetensorsSource::open_file(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  FAIL("opened a broken file: " << path);
  return "";
}

}  // namespace

TEST_CASE("dtype conversions", "[weights]") {
  CHECK(bf16_to_f32(0x3f80) == 1.0f);
  CHECK(bf16_to_f32(0xc040) == -3.0f);
  CHECK(f16_to_f32(0x3c00) == 1.0f);
  CHECK(f16_to_f32(0xc000) == -2.0f);
  CHECK(f16_to_f32(0x7bff) == 65504.0f);
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(f16_to_f32(0x03ff) == std::ldexp(1023.0f, -24));  // largest subnormal
  CHECK(std::isinf(f16_to_f32(0x7c00)));
  CHECK(std::isnan(f16_to_f32(0x7e00)));
  CHECK(std::signbit(f16_to_f32(0x8000)));
  CHECK(dtype_size(DType::bf16) == 2);
  CHECK(dtype_name(DType::f16) == "F16");
}

TEST_CASE("a single-file fp32 checkpoint maps every tensor with its shape", "[weights]") {
  auto source = SafetensorsSource::open_directory(kModels / "llama_gqa_untied");
  const TensorView* q = source->find("model.layers.0.self_attn.q_proj.weight");
  REQUIRE(q != nullptr);
  CHECK(q->dtype == DType::f32);
  CHECK(q->shape == std::vector<int64_t>{64, 64});
  const TensorView* k = source->find("model.layers.1.self_attn.k_proj.weight");
  REQUIRE(k != nullptr);
  CHECK(k->shape == std::vector<int64_t>{16, 64});  // GQA: 2 kv heads of 8
  CHECK(source->find("lm_head.weight") != nullptr);
  CHECK(source->find("no.such.tensor") == nullptr);
  CHECK(source->names().size() == 2 * 9 + 3);

  auto norm = load_f32(*source, "model.norm.weight", {64});
  CHECK(norm.size() == 64);
  CHECK_THROWS_WITH(load_f32(*source, "model.norm.weight", {32}),
                    Catch::Contains("model.norm.weight") && Catch::Contains("[64]") && Catch::Contains("[32]") &&
                        Catch::Contains("model.safetensors"));
  CHECK_THROWS_WITH(load_f32(*source, "model.layers.7.mlp.up_proj.weight", {128, 64}),
                    Catch::Contains("model.layers.7.mlp.up_proj.weight") && Catch::Contains("missing"));
}

TEST_CASE("bf16 checkpoints convert to the same values as their fp32 reading", "[weights]") {
  auto source = SafetensorsSource::open_directory(kModels / "llama_gqa_bf16");
  const TensorView* embed = source->find("model.embed_tokens.weight");
  REQUIRE(embed != nullptr);
  CHECK(embed->dtype == DType::bf16);
  auto values = load_f32(*source, "model.embed_tokens.weight", {256, 64});
  uint16_t first;
  std::memcpy(&first, embed->bytes.data(), 2);
  CHECK(values[0] == bf16_to_f32(first));
  bool any_nonzero = false;
  for (float v : values) any_nonzero |= v != 0.0f;
  CHECK(any_nonzero);
}

TEST_CASE("sharded checkpoints follow model.safetensors.index.json", "[weights]") {
  auto source = SafetensorsSource::open_directory(kModels / "qwen2_sharded");
  CHECK_THAT(source->description(), Catch::Contains("2 shards"));
  const TensorView* head = source->find("lm_head.weight");
  REQUIRE(head != nullptr);
  CHECK_THAT(head->origin, Catch::Contains("model-00002-of-00002.safetensors"));
  const TensorView* bias = source->find("model.layers.0.self_attn.q_proj.bias");
  REQUIRE(bias != nullptr);
  CHECK_THAT(bias->origin, Catch::Contains("model-00001-of-00002.safetensors"));
}

TEST_CASE("broken sharded checkpoints", "[weights]") {
  TempDir dir;
  const std::string header = R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  write_safetensors(dir.path / "one.safetensors", header, floats_as_bytes({1, 2}));
  const auto index = dir.path / "model.safetensors.index.json";

  std::ofstream(index) << R"({"weight_map": {"a": "one.safetensors", "b": "two.safetensors"}})";
  CHECK_THROWS_WITH(SafetensorsSource::open_directory(dir.path),
                    Catch::Contains("two.safetensors") && Catch::Contains("does not exist"));

  std::ofstream(index) << R"({"weight_map": {"a": "one.safetensors", "b": "one.safetensors"}})";
  CHECK_THROWS_WITH(SafetensorsSource::open_directory(dir.path),
                    Catch::Contains("one.safetensors") && Catch::Contains("'b'") && Catch::Contains("not there"));

  std::ofstream(index) << R"({"metadata": {}})";
  CHECK_THROWS_WITH(SafetensorsSource::open_directory(dir.path),
                    Catch::Contains("weight_map") && Catch::Contains("missing"));

  std::ofstream(index) << R"({"weight_map": {"a": "../one.safetensors"}})";
  CHECK_THROWS_WITH(SafetensorsSource::open_directory(dir.path), Catch::Contains("../one.safetensors"));

  std::ofstream(index) << R"({"weight_map": {"a": "one.safetensors"})";
  CHECK_THROWS_WITH(SafetensorsSource::open_directory(dir.path), Catch::Contains("not valid JSON"));

  std::ofstream(index) << R"({"weight_map": {"a": "one.safetensors"}})";
  auto source = SafetensorsSource::open_directory(dir.path);
  CHECK(load_f32(*source, "a", {2}) == std::vector<float>{1, 2});
}

TEST_CASE("a directory without weights", "[weights]") {
  TempDir dir;
  CHECK_THROWS_WITH(SafetensorsSource::open_directory(dir.path),
                    Catch::Contains(dir.path.string()) && Catch::Contains("model.safetensors"));
}

TEST_CASE("broken safetensors headers name file, tensor and expectation", "[weights]") {
  TempDir dir;
  const auto file = dir.path / "model.safetensors";
  const std::string data = floats_as_bytes({1, 2, 3, 4, 5, 6});

  SECTION("good file for comparison") {
    write_safetensors(file,
                      R"({"__metadata__": {"format": "pt"},
                          "w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                          "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}})",
                      data);
    auto source = SafetensorsSource::open_file(file);
    CHECK(load_f32(*source, "w", {2, 2}) == std::vector<float>{1, 2, 3, 4});
    CHECK(load_f32(*source, "b", {2}) == std::vector<float>{5, 6});
  }
  SECTION("F16 and BF16 tensors convert to fp32") {
    // 1.0, -2.0, 0.5 in binary16 and bfloat16.
    const uint16_t f16[] = {0x3c00, 0xc000, 0x3800};
    const uint16_t bf16[] = {0x3f80, 0xc000, 0x3f00};
    std::string bytes(reinterpret_cast<const char*>(f16), 6);
    bytes.append(reinterpret_cast<const char*>(bf16), 6);
    write_safetensors(file,
                      R"({"h": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]},
                          "b": {"dtype": "BF16", "shape": [1, 3], "data_offsets": [6, 12]}})",
                      bytes);
    auto source = SafetensorsSource::open_file(file);
    CHECK(source->find("h")->dtype == DType::f16);
    CHECK(load_f32(*source, "h", {3}) == std::vector<float>{1.0f, -2.0f, 0.5f});
    CHECK(load_f32(*source, "b", {1, 3}) == std::vector<float>{1.0f, -2.0f, 0.5f});
  }
  SECTION("file shorter than the length field") {
    std::ofstream(file, std::ios::binary) << "abc";
    CHECK_THAT(error_opening(file), Catch::Contains("too short") && Catch::Contains("model.safetensors"));
  }
  SECTION("absurd header length") {
    write_safetensors(file, "{}", "", 1ull << 40);
    CHECK_THAT(error_opening(file), Catch::Contains("absurd"));
  }
  SECTION("header length past the end of the file") {
    write_safetensors(file, "{}", "", 4096);
    CHECK_THAT(error_opening(file), Catch::Contains("exceeds the file size"));
  }
  SECTION("header is not JSON") {
    write_safetensors(file, R"({"w": {"dtype": )", data);
    CHECK_THAT(error_opening(file), Catch::Contains("not valid JSON"));
  }
  SECTION("unknown dtype") {
    write_safetensors(file, R"({"w": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}})", data);
    CHECK_THAT(error_opening(file), Catch::Contains("'w'") && Catch::Contains("Q4") && Catch::Contains("BF16"));
  }
  SECTION("offsets do not match the shape") {
    write_safetensors(file, R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", data);
    CHECK_THAT(error_opening(file), Catch::Contains("'w'") && Catch::Contains("needs 12"));
  }
  SECTION("truncated data") {
    write_safetensors(file, R"({"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}})", data);
    CHECK_THAT(error_opening(file), Catch::Contains("'w'") && Catch::Contains("truncated"));
  }
  SECTION("overlapping tensors") {
    write_safetensors(file,
                      R"({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                          "v": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}})",
                      data);
    CHECK_THAT(error_opening(file), Catch::Contains("'w'") && Catch::Contains("'v'") && Catch::Contains("overlap"));
  }
  SECTION("end before begin") {
    write_safetensors(file, R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 0]}})", data);
    CHECK_THAT(error_opening(file), Catch::Contains("'w'") && Catch::Contains("end before"));
  }
  SECTION("negative shape") {
    write_safetensors(file, R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", data);
    CHECK_THAT(error_opening(file), Catch::Contains("'w'") && Catch::Contains("non-negative"));
  }
  SECTION("missing data_offsets") {
    write_safetensors(file, R"({"w": {"dtype": "F32", "shape": [1]}})", data);
    CHECK_THAT(error_opening(file), Catch::Contains("'w'") && Catch::Contains("data_offsets"));
  }
  SECTION("header is a list") {
    write_safetensors(file, R"([1, 2])", data);
    CHECK_THAT(error_opening(file), Catch::Contains("JSON object"));
  }
  SECTION("a file that is not there") {
    CHECK_THAT(error_opening(dir.path / "nope.safetensors"), Catch::Contains("nope.safetensors"));
  }
}

TEST_CASE("MappedFile is movable and maps the bytes on disk", "[weights]") {
  TempDir dir;
  std::ofstream(dir.path / "f", std::ios::binary) << "hello";
  MappedFile a(dir.path / "f");
  MappedFile b(std::move(a));
  CHECK(b.size() == 5);
  CHECK(std::memcmp(b.bytes().data(), "hello", 5) == 0);
  CHECK(a.size() == 0);
  std::ofstream(dir.path / "empty", std::ios::binary);
  CHECK(MappedFile(dir.path / "empty").size() == 0);
}
