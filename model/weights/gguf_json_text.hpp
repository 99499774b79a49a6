#pragma once
// Just enough JSON writing to turn GGUF metadata into the config.json / tokenizer.json texts that the
// Hugging Face parsers read; values are appended to a string in order, the caller writes the structure.

#include <string>
#include <string_view>

namespace sabre {

// Appends `text` as a quoted JSON string (UTF-8 passed through; quotes, backslashes and control
// characters escaped).
void append_json_string(std::string& out, std::string_view text);

// Appends a double so that it parses back to the same value ("1e-05", "100000.0"); non-finite values
// are not valid JSON and throw.
void append_json_number(std::string& out, double value);

}  // namespace sabre
