#include "model/chat/utf8.hpp"

namespace sabre::chat {

DecodedCodePoint decode_utf8_at(std::string_view text, size_t pos) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  const size_t extra = b0 < 0x80 ? 0 : (b0 >> 5) == 6 ? 1 : (b0 >> 4) == 14 ? 2 : (b0 >> 3) == 30 ? 3 : 4;
  if (extra == 0 || extra == 4 || pos + extra >= text.size()) return {b0, 1};
  char32_t cp = b0 & (0x3F >> extra);
  for (size_t k = 1; k <= extra; ++k) {
    const auto b = static_cast<unsigned char>(text[pos + k]);
    if ((b & 0xC0) != 0x80) return {b0, 1};  // keep the stray byte as a code point rather than dropping it
    cp = (cp << 6) | (b & 0x3F);
  }
  return {cp, extra + 1};
}

std::u32string utf8_to_u32(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const DecodedCodePoint d = decode_utf8_at(text, i);
    out.push_back(d.cp);
    i += d.length;
  }
  return out;
}

std::string u32_to_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : text) append_utf8(out, cp);
  return out;
}

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool is_python_space(char32_t cp) {
  switch (cp) {
    case ' ': case '\t': case '\n': case '\r': case '\v': case '\f':
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x85: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

}  // namespace sabre::chat

#include <clocale>
#include <cwctype>
#include <locale.h>

namespace sabre::chat {

namespace {

locale_t utf8_locale() {
  static locale_t locale = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    return l;
  }();
  return locale;
}

}  // namespace

char32_t to_upper_cp(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
  if (locale_t l = utf8_locale()) return static_cast<char32_t>(towupper_l(static_cast<wint_t>(cp), l));
  return cp;
}

char32_t to_lower_cp(char32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  if (locale_t l = utf8_locale()) return static_cast<char32_t>(towlower_l(static_cast<wint_t>(cp), l));
  return cp;
}

bool is_letter_cp(char32_t cp) {
  if (cp < 0x80) return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  if (locale_t l = utf8_locale()) return iswalpha_l(static_cast<wint_t>(cp), l) != 0;
  return false;
}

// Python's str.upper() uses the full Unicode mappings, where a few characters become two or three.
const char* full_upper(char32_t cp) {
  switch (cp) {
    case 0x00DF: return "SS";
    case 0x0149: return "\u02BCN";
    case 0xFB00: return "FF";
    case 0xFB01: return "FI";
    case 0xFB02: return "FL";
    case 0xFB03: return "FFI";
    case 0xFB04: return "FFL";
    case 0xFB05:
    case 0xFB06: return "ST";
    default: return nullptr;
  }
}

std::string to_upper(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : utf8_to_u32(text)) {
    if (const char* expansion = full_upper(cp)) {
      out += expansion;
    } else {
      append_utf8(out, to_upper_cp(cp));
    }
  }
  return out;
}

std::string to_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t cp : utf8_to_u32(text)) append_utf8(out, to_lower_cp(cp));
  return out;
}

}  // namespace sabre::chat
