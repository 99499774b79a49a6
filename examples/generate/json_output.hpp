#pragma once
// The --json result object, written by hand (no JSON library writes; simdjson only parses).

#include <string>
#include <string_view>

#include "model/generator.hpp"

namespace sabre::generate_cli {

// A JSON string literal for UTF-8 `text` (quotes, backslashes and control characters escaped).
std::string json_string(std::string_view text);

std::string result_json(const std::string* text, const GenerationResult& result, uint64_t seed);

}  // namespace sabre::generate_cli
