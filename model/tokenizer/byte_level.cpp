#include "model/tokenizer/byte_level.hpp"

#include "model/tokenizer/utf8.hpp"
#include "config/text/utf8_encode.hpp"

namespace sabre::byte_level {

namespace {

struct Tables {
  std::array<std::string, 256> byte_to_utf8;
  std::array<char32_t, 256> byte_to_code_point{};
  std::array<int16_t, 512> code_point_to_byte{};  // stand-ins are all below U+0200

  Tables() {
    code_point_to_byte.fill(-1);
    // Printable Latin-1 bytes stand for themselves; the others get U+0100 upwards, in byte order.
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    char32_t next_extra = 256;
    for (int b = 0; b < 256; ++b) {
      const char32_t cp = printable(b) ? static_cast<char32_t>(b) : next_extra++;
      byte_to_code_point[b] = cp;
      code_point_to_byte[cp] = static_cast<int16_t>(b);
      append_utf8(byte_to_utf8[b], cp);
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

const std::string& char_for_byte(uint8_t byte) { return tables().byte_to_utf8[byte]; }

int byte_for_char(char32_t cp) {
  if (cp >= 512) return -1;
  return tables().code_point_to_byte[cp];
}

void encode(std::string_view raw, std::string& out) {
  const auto& t = tables();
  for (unsigned char b : raw) out.append(t.byte_to_utf8[b]);
}

}  // namespace sabre::byte_level
