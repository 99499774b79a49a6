#pragma once
// GPT-2's reversible byte <-> printable code point table, used by byte-level BPE (Qwen, Llama 3): every
// byte of the UTF-8 text is shown as one visible character so that the vocabulary needs no control
// or whitespace characters.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sabre::byte_level {

// The UTF-8 encoding of the code point that stands for `byte`.
const std::string& char_for_byte(uint8_t byte);

// The byte a code point stands for, or -1 if the code point is not one of the 256 stand-ins.
int byte_for_char(char32_t code_point);

// Appends the stand-in characters of every byte of `raw`.
void encode(std::string_view raw, std::string& out);

}  // namespace sabre::byte_level
