// config/text: file reads, UTF-8 encoding and the JSON string writer, checked against hand-worked bytes.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "config/text/json_writer.hpp"
#include "config/text/read_file.hpp"
#include "config/text/utf8_encode.hpp"

using namespace sabre;

TEST_CASE("append_utf8 writes 1 to 4 bytes at each length boundary", "[text]") {
  const std::pair<char32_t, std::string> cases[] = {
      {U'\0', std::string("\0", 1)}, {0x7F, "\x7F"},         {0x80, "\xC2\x80"},
      {0x7FF, "\xDF\xBF"},           {0x800, "\xE0\xA0\x80"}, {0x20AC, "\xE2\x82\xAC"},
      {0xFFFF, "\xEF\xBF\xBF"},      {0x10000, "\xF0\x90\x80\x80"}, {0x1F600, "\xF0\x9F\x98\x80"},
      {0x10FFFF, "\xF4\x8F\xBF\xBF"},
  };
  for (const auto& [cp, bytes] : cases) {
    std::string out = "x";
    append_utf8(out, cp);
    CHECK(out == "x" + bytes);
  }
}

TEST_CASE("json_string escapes quotes, backslashes and control characters and passes UTF-8 through", "[text]") {
  CHECK(json_string("") == R"("")");
  CHECK(json_string("a\"b\\c") == R"("a\"b\\c")");
  CHECK(json_string("\n\r\t\b\f") == R"("\n\r\t\b\f")");
  CHECK(json_string(std::string("\x01\x1f\0", 3)) == R"("\u0001\u001f\u0000")");
  CHECK(json_string("\x7f caf\xC3\xA9 \xF0\x9F\x98\x80") == "\"\x7f caf\xC3\xA9 \xF0\x9F\x98\x80\"");
  std::string out = "[";
  append_json_string(out, "x");
  CHECK(out == R"(["x")");
}

TEST_CASE("read_text_file returns the bytes and names the path when it cannot", "[text]") {
  const auto path = std::filesystem::temp_directory_path() / ("sabre_text_test_" + std::to_string(std::random_device{}()));
  const std::string bytes("line\r\n\0binary\xff", 15);
  std::ofstream(path, std::ios::binary) << bytes;
  CHECK(read_text_file(path) == bytes);
  CHECK(read_text_file_if_exists(path) == bytes);
  std::filesystem::remove(path);
  CHECK_FALSE(read_text_file_if_exists(path).has_value());
  CHECK_THROWS_WITH(read_text_file(path), Catch::Contains(path.string()) && Catch::Contains("cannot open for reading"));
  CHECK_THROWS_WITH(read_text_file(std::filesystem::temp_directory_path()), Catch::Contains("is a directory"));
}
