#pragma once
// Encoding one Unicode code point as UTF-8, shared by the tokenizer, the template engine and the GGUF
// vocabulary translation.

#include <string>

namespace sabre {

// Appends `cp` (at most U+10FFFF; the caller has checked) as 1 to 4 UTF-8 bytes.
void append_utf8(std::string& out, char32_t cp);

}  // namespace sabre
