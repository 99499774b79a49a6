#pragma once
// Just enough JSON writing (strings: config/text/json_writer.hpp) to turn GGUF metadata into the config.json / tokenizer.json texts that the
// Hugging Face parsers read; values are appended to a string in order, the caller writes the structure.

#include <string>
#include <string_view>

#include "config/text/json_writer.hpp"  // append_json_string

namespace sabre {

// Appends a double so that it parses back to the same value ("1e-05", "100000.0"); non-finite values
// are not valid JSON and throw.
void append_json_number(std::string& out, double value);

}  // namespace sabre
