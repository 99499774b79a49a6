#pragma once
// The --json result object, written by hand (no JSON library writes; simdjson only parses).

#include <string>
#include <string_view>

#include "config/text/json_writer.hpp"  // json_string
#include "model/generator.hpp"

namespace sabre::generate_cli {

std::string result_json(const std::string* text, const GenerationResult& result, uint64_t seed);

}  // namespace sabre::generate_cli
