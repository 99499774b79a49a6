// UTF-8 repair and streaming helpers. Expected replacements are Python's bytes.decode("utf-8", "replace"),
// which, like Rust's from_utf8_lossy, replaces each maximal invalid subpart by one U+FFFD.
#include <catch2/catch.hpp>

#include <filesystem>

#include "golden_cases.hpp"
#include "model/tokenizer/utf8.hpp"

using namespace sabre;

namespace {
const std::string R = "\xEF\xBF\xBD";
}

TEST_CASE("to_valid_lossy replaces maximal invalid subparts", "[tokenizer][utf8]") {
  CHECK(utf8::to_valid_lossy("\xE4\xBD" "a") == R + "a");     // truncated 3-byte sequence: one
  CHECK(utf8::to_valid_lossy("\xF0\x80\x80") == R + R + R);   // overlong lead: each byte
  CHECK(utf8::to_valid_lossy("\xED\xA0\x80") == R + R + R);   // surrogate
  CHECK(utf8::to_valid_lossy("\xC0\xAF") == R + R);
  CHECK(utf8::to_valid_lossy("\xF4\x90\x80\x80") == R + R + R + R);  // above U+10FFFF
  CHECK(utf8::to_valid_lossy("\xF0\x9F\x98") == R);
  CHECK(utf8::to_valid_lossy("a\x80" "b") == "a" + R + "b");
  CHECK(utf8::to_valid_lossy("\xFF\xFE") == R + R);
  CHECK(utf8::to_valid_lossy("h\xC3\xA9llo \xF0\x9F\x98\x80") == "h\xC3\xA9llo \xF0\x9F\x98\x80");
  CHECK(utf8::is_valid(std::string("a\0b", 3)));
  CHECK_FALSE(utf8::is_valid("\xE4\xBD"));
}

TEST_CASE("encode repairs invalid UTF-8 before tokenizing", "[tokenizer][utf8]") {
  const auto path = test::shared_tokenizer("qwen3");
  if (!std::filesystem::exists(path)) {
    WARN("SKIPPED: " << path << " is missing");
    return;
  }
  const auto tok = Tokenizer::from_file(path);
  CHECK(tok.encode("x\xE4\xBD" "y", false) == tok.encode("x" + R + "y", false));
}
