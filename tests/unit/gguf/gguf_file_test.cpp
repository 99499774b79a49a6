// The GGUF reader against tests/fixtures/gguf/quants.gguf (written by gguf-py, see make_quant_fixtures.py):
// metadata of every value type, alignment, tensor infos, and the errors for damaged files.

#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "model/weights/gguf_file.hpp"

namespace {

const std::filesystem::path kQuants = std::filesystem::path(SABRE_TEST_FIXTURES) / "gguf" / "quants.gguf";

std::vector<char> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes a modified copy of quants.gguf into the build tree and returns its path.
std::filesystem::path write_variant(const std::string& name, const std::vector<char>& bytes) {
  const auto dir = std::filesystem::path(SABRE_BINARY_DIR) / "test-gguf-tmp";
  std::filesystem::create_directories(dir);
  const auto path = dir / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// Offset of the first occurrence of `needle` in the bytes (the tensor-info section spells tensor names).
size_t find_bytes(const std::vector<char>& bytes, const std::string& needle) {
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  REQUIRE(it != bytes.end());
  return static_cast<size_t>(it - bytes.begin());
}

std::string open_error(const std::filesystem::path& path) {
  try {
    sabre::GgufFile::open(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("GGUF metadata of every value type is read", "[gguf]") {
  const auto file = sabre::GgufFile::open(kQuants);
  CHECK(file.version() == 3);
  CHECK(file.alignment() == 64);
  CHECK(file.data_offset() % 64 == 0);
  CHECK(file.get_string("general.architecture") == "sabre-test");
  CHECK(file.get_uint("test.u8") == 200);
  CHECK(file.get_int("test.i8") == -100);
  CHECK(file.get_uint("test.u16") == 60000);
  CHECK(file.get_int("test.i16") == -30000);
  CHECK(file.get_uint("test.u32") == 4000000000u);
  CHECK(file.get_int("test.i32") == -2000000000);
  CHECK(file.get_float("test.f32") == 0.15625);
  CHECK(file.get_bool("test.bool"));
  CHECK(file.get_string("test.string") == "h\xC3\xA9llo \xE2\x9C\x93");
  CHECK(file.get_uint("test.u64") == 18000000000000000000ull);
  CHECK(file.get_int("test.i64") == -9000000000000000000ll);
  CHECK(file.get_float("test.f64") == -2.718281828459045);
  CHECK(file.get_int_array("test.array_i32") == std::vector<int64_t>{1, -2, 3});
  CHECK(file.get_string_array("test.array_str") == std::vector<std::string>{"a", "", "ccc"});
  CHECK(file.get_float_array("test.array_f32") == std::vector<double>{0.5, -1.25});

  const auto* nested = file.find("test.array_nested");
  REQUIRE(nested != nullptr);
  CHECK(nested->type == sabre::GgufValueType::array);
  CHECK(nested->element_type == sabre::GgufValueType::array);
  const auto& outer = std::get<std::vector<sabre::GgufValue>>(nested->data);
  REQUIRE(outer.size() == 2);
  CHECK(std::get<std::vector<sabre::GgufValue>>(outer[0].data).size() == 2);
  CHECK(std::get<std::vector<sabre::GgufValue>>(outer[1].data).size() == 1);
}

TEST_CASE("GGUF typed accessors name the key and the expectation", "[gguf]") {
  const auto file = sabre::GgufFile::open(kQuants);
  CHECK_THROWS_WITH(file.get_string("test.u8"),
                    Catch::Contains("test.u8") && Catch::Contains("expected a string"));
  CHECK_THROWS_WITH(file.get_uint("test.i8"), Catch::Contains("non-negative integer"));
  CHECK_THROWS_WITH(file.get_uint("no.such.key"),
                    Catch::Contains("no metadata key 'no.such.key'") && Catch::Contains("quants.gguf"));
  CHECK_THROWS_WITH(file.get_string_array("test.array_i32"), Catch::Contains("array of string"));
}

TEST_CASE("GGUF tensor infos give ggml dims and the torch shape", "[gguf]") {
  const auto file = sabre::GgufFile::open(kQuants);
  CHECK(file.tensors().size() == 30);
  const auto* q = file.find_tensor("quant.Q4_K");
  REQUIRE(q != nullptr);
  CHECK(q->raw_type == static_cast<uint32_t>(sabre::GgmlType::q4_k));
  CHECK(q->dims == std::vector<uint64_t>{512, 4});
  CHECK(q->torch_shape() == std::vector<int64_t>{4, 512});
  CHECK(q->element_count == 2048);
  CHECK(q->byte_count == 8 * 144);
  CHECK(q->offset % 64 == 0);
  CHECK(file.find_tensor("missing") == nullptr);
}

TEST_CASE("GGUF errors name the file and what was expected", "[gguf]") {
  const auto good = read_bytes(kQuants);
  REQUIRE(good.size() > 1000);

  SECTION("missing file") {
    CHECK_THAT(open_error("/nonexistent/x.gguf"), Catch::Contains("cannot open GGUF file '/nonexistent/x.gguf'"));
  }
  SECTION("bad magic") {
    auto bytes = good;
    std::memcpy(bytes.data(), "GGUX", 4);
    CHECK_THAT(open_error(write_variant("bad_magic.gguf", bytes)),
               Catch::Contains("bad_magic.gguf") && Catch::Contains("magic"));
  }
  SECTION("unsupported version") {
    auto bytes = good;
    const uint32_t version = 1;
    std::memcpy(bytes.data() + 4, &version, 4);
    CHECK_THAT(open_error(write_variant("v1.gguf", bytes)),
               Catch::Contains("version 1") && Catch::Contains("2 and 3"));
  }
  SECTION("version 2 reads like version 3") {
    auto bytes = good;
    const uint32_t version = 2;
    std::memcpy(bytes.data() + 4, &version, 4);
    const auto file = sabre::GgufFile::open(write_variant("v2.gguf", bytes));
    CHECK(file.version() == 2);
    CHECK(file.get_uint("test.u8") == 200);
    CHECK(file.tensors().size() == 30);
  }
  SECTION("big-endian file") {
    auto bytes = good;
    const uint32_t version = 0x03000000;  // 3 as a big-endian writer stores it
    std::memcpy(bytes.data() + 4, &version, 4);
    CHECK_THAT(open_error(write_variant("big_endian.gguf", bytes)), Catch::Contains("big-endian"));
  }
  SECTION("truncated inside the metadata") {
    std::vector<char> bytes(good.begin(), good.begin() + 200);
    CHECK_THAT(open_error(write_variant("truncated_meta.gguf", bytes)),
               Catch::Contains("truncated_meta.gguf") && Catch::Contains("truncated"));
  }
  SECTION("truncated inside the tensor data") {
    std::vector<char> bytes(good.begin(), good.end() - 100);
    const auto message = open_error(write_variant("truncated_data.gguf", bytes));
    CHECK_THAT(message, Catch::Contains("truncated_data.gguf") && Catch::Contains("expected.IQ4_XS") &&
                            Catch::Contains("beyond the end of the file"));
  }
  SECTION("unknown tensor type") {
    auto bytes = good;
    // A tensor info is: name, n_dims (u32), dims (u64 each), type (u32), offset (u64).
    const std::string name = "quant.Q8_0";
    const size_t type_at = find_bytes(bytes, name) + name.size() + 4 + 2 * 8;
    const uint32_t bogus = 99;
    std::memcpy(bytes.data() + type_at, &bogus, 4);
    CHECK_THAT(open_error(write_variant("bad_type.gguf", bytes)),
               Catch::Contains("quant.Q8_0") && Catch::Contains("unknown ggml type 99"));
  }
  SECTION("tensor offset out of range") {
    auto bytes = good;
    const std::string name = "quant.Q8_0";
    const size_t offset_at = find_bytes(bytes, name) + name.size() + 4 + 2 * 8 + 4;
    const uint64_t far = uint64_t{1} << 30;
    std::memcpy(bytes.data() + offset_at, &far, 8);
    CHECK_THAT(open_error(write_variant("bad_offset.gguf", bytes)),
               Catch::Contains("quant.Q8_0") && Catch::Contains("beyond the end of the file"));
  }
  SECTION("misaligned tensor offset") {
    auto bytes = good;
    const std::string name = "quant.Q8_0";
    const size_t offset_at = find_bytes(bytes, name) + name.size() + 4 + 2 * 8 + 4;
    uint64_t offset;
    std::memcpy(&offset, bytes.data() + offset_at, 8);
    offset += 4;
    std::memcpy(bytes.data() + offset_at, &offset, 8);
    CHECK_THAT(open_error(write_variant("misaligned.gguf", bytes)),
               Catch::Contains("quant.Q8_0") && Catch::Contains("alignment 64"));
  }
  SECTION("unknown metadata value type") {
    auto bytes = good;
    const std::string key = "test.u8";
    const size_t type_at = find_bytes(bytes, key) + key.size();
    const uint32_t bogus = 77;
    std::memcpy(bytes.data() + type_at, &bogus, 4);
    CHECK_THAT(open_error(write_variant("bad_value_type.gguf", bytes)),
               Catch::Contains("test.u8") && Catch::Contains("unknown value type 77"));
  }
  SECTION("huge array count") {
    auto bytes = good;
    const std::string key = "test.array_str";
    const size_t count_at = find_bytes(bytes, key) + key.size() + 4 + 4;
    const uint64_t huge = uint64_t{1} << 60;
    std::memcpy(bytes.data() + count_at, &huge, 8);
    CHECK_THAT(open_error(write_variant("huge_array.gguf", bytes)),
               Catch::Contains("test.array_str") && Catch::Contains("array elements"));
  }
}
