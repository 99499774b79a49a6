#include "io/openai/output_constraints.hpp"

#include <fmt/format.h>

#include <array>

#include "io/openai/api_error.hpp"

namespace sabre::openai {

namespace {

void check_json_schema_format(const RequestFields& format) {
  const auto spec = format.object("json_schema");
  if (!spec) reject("response_format.json_schema", "'response_format.json_schema' is required when its type is "
                                                   "\"json_schema\"");
  const auto name = spec->string("name");
  if (!name) reject("response_format.json_schema.name", "'response_format.json_schema.name' is required");
  if (!valid_function_name(*name)) {
    reject("response_format.json_schema.name",
           fmt::format("'response_format.json_schema.name' must be 1 to 64 letters, digits, '_' or '-', got \"{}\"",
                       *name));
  }
  spec->string("description");
  spec->boolean("strict");
  const auto schema = spec->get("schema");
  if (schema && !schema->is_object() && !schema->is_bool()) {
    reject("response_format.json_schema.schema",
           fmt::format("'response_format.json_schema.schema' must be a JSON Schema object, got {}",
                       describe_json_type(*schema)));
  }
}

}  // namespace

bool valid_function_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

void check_output_constraints(const RequestFields& fields) {
  if (const auto format = fields.object("response_format")) {
    const auto type = format->string("type");
    if (!type) reject("response_format.type", "'response_format.type' is required");
    if (*type == "json_schema") {
      check_json_schema_format(*format);
    } else if (*type != "text" && *type != "json_object") {
      reject("response_format.type",
             fmt::format("'response_format.type' must be \"text\", \"json_object\" or \"json_schema\", got \"{}\"",
                         *type));
    }
    if (*type != "text") {
      reject("response_format", fmt::format("'response_format' of type \"{}\" is not supported yet: the engine "
                                            "cannot constrain its output",
                                            *type));
    }
  }
  constexpr std::array kGuided{"guided_json", "guided_regex", "guided_choice", "guided_grammar", "structured_outputs"};
  for (const char* name : kGuided) {
    if (fields.get(name)) {
      reject(name, fmt::format("'{}' is not supported yet: the engine cannot constrain its output", name));
    }
  }
}

}  // namespace sabre::openai
