#pragma once
// Python strings index by code point while ours are UTF-8 bytes; these helpers convert where a
// template needs code-point semantics (length, indexing, slicing, reversing).

#include <string>
#include <string_view>
#include <vector>

#include "config/text/utf8_encode.hpp"  // append_utf8

namespace sabre::chat {

// One code point read from UTF-8 text, and how many bytes it took.
struct DecodedCodePoint {
  char32_t cp;
  size_t length;
};
// The code point starting at text[pos] (pos < text.size()); an invalid byte decodes as the code point of
// that byte, one byte long, so nothing is lost.
DecodedCodePoint decode_utf8_at(std::string_view text, size_t pos);
// Decodes UTF-8 as decode_utf8_at does, all at once.
std::u32string utf8_to_u32(std::string_view text);
std::string u32_to_utf8(std::u32string_view text);
// Number of code points.
size_t utf8_length(std::string_view text);
// Python's str.isspace() for one code point (ASCII and the common Unicode spaces).
bool is_python_space(char32_t cp);

}  // namespace sabre::chat

namespace sabre::chat {

// Simple (one-to-one) Unicode case mapping, as far as the C library's C.UTF-8 locale knows it;
// ASCII only if that locale is missing. Python's full mappings (e.g. "ß".upper() == "SS") differ.
char32_t to_upper_cp(char32_t cp);
char32_t to_lower_cp(char32_t cp);
bool is_letter_cp(char32_t cp);
std::string to_upper(std::string_view text);
std::string to_lower(std::string_view text);

}  // namespace sabre::chat
