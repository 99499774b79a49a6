#pragma once
// JSON as grammar rules: the building blocks every JSON constraint shares (strings, numbers, any value,
// whitespace), and the two JSON constraints: any JSON object (response_format json_object) and a JSON
// Schema (json_schema_grammar.cpp).
//
// Whitespace between tokens is one space, or a line break and up to 20 spaces of indentation, and numbers
// have at most 16 digits before and after the point: every output still parses, and a sampled model
// cannot pad forever.

#include <map>
#include <string>
#include <string_view>

#include "model/structured/grammar.hpp"

namespace sabre::structured {

using RuleMap = std::map<std::string, Expr>;

// Adds the shared rules to `rules` (idempotent): json-ws, json-char, json-string, json-integer,
// json-number, json-boolean, json-null, json-value, json-object, json-array.
void add_json_rules(RuleMap& rules);

// Rules whose "root" is any JSON object.
RuleMap json_object_rules();

// Rules whose "root" matches exactly the JSON texts valid under `schema` (a JSON Schema, draft 2020-12 or
// 07 keywords). Throws GrammarError naming a keyword it does not support, and where it is ("#/..."),
// rather than match more than the schema allows.
RuleMap json_schema_rules(std::string_view schema);

}  // namespace sabre::structured
