#pragma once
// Small UTF-8 helpers shared by the tokenizer components. They follow Rust's `str` rules because the
// reference implementation (`tokenizers`) is written in Rust: invalid input is replaced the way
// `String::from_utf8_lossy` does (one U+FFFD per maximal invalid subpart).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sabre::utf8 {

inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";  // U+FFFD

// Length in bytes of the valid UTF-8 sequence starting at text[pos], or 0 if the bytes there are not
// a complete, valid sequence (truncated, overlong, surrogate, out of range, stray continuation byte).
size_t valid_sequence_length(std::string_view text, size_t pos);

// Number of bytes that form a maximal invalid subpart at text[pos] (Unicode "substitution of maximal
// subparts", what from_utf8_lossy replaces by one U+FFFD). Only meaningful where
// valid_sequence_length(text, pos) == 0; always >= 1.
size_t invalid_subpart_length(std::string_view text, size_t pos);

bool is_valid(std::string_view text);

// Copies text, replacing each maximal invalid subpart by U+FFFD.
std::string to_valid_lossy(std::string_view text);

// Decodes the code point at text[pos] (text must be valid UTF-8 there) and advances pos past it.
char32_t decode_at(std::string_view text, size_t& pos);

// Length of the UTF-8 sequence whose lead byte is `lead` (1 for ASCII and, defensively, for stray bytes).
inline size_t sequence_length_from_lead(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

// Encoding a code point: sabre::append_utf8 (config/text/utf8_encode.hpp).

// True for the code points of Unicode's White_Space property (Rust's char::is_whitespace).
bool is_whitespace(char32_t c);
// Rust's char::is_alphanumeric: general category L* or N*.
bool is_alphanumeric(char32_t c);
// Rust's char::is_numeric: general category N*.
bool is_numeric(char32_t c);

}  // namespace sabre::utf8
