#pragma once
// The small JSON writer of RFC 8259 strings: what Sabre prints (CLI output) and what it synthesises
// (config.json / tokenizer.json texts from GGUF metadata). Text is passed through as UTF-8; only '"',
// '\\' and control characters are escaped. (Python's json.dumps spelling for templates lives in
// model/chat, which must match Python byte for byte.)

#include <string>
#include <string_view>

namespace sabre {

void append_json_string(std::string& out, std::string_view text);
std::string json_string(std::string_view text);

}  // namespace sabre
