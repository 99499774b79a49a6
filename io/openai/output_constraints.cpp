#include "io/openai/output_constraints.hpp"

#include <fmt/format.h>

#include <vector>

#include "io/openai/api_error.hpp"

namespace sabre::openai {

namespace {

// A schema given as a JSON object (or boolean), or as a string holding one (vLLM accepts both).
std::string schema_text(const simdjson::dom::element& schema, const std::string& param) {
  if (schema.is_object() || schema.is_bool()) return simdjson::minify(schema);
  if (schema.is_string()) return std::string(std::string_view(schema));
  reject(param, fmt::format("'{}' must be a JSON Schema object, got {}", param, describe_json_type(schema)));
}

GuidedDecoding json_schema_format(const RequestFields& format) {
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
  // Without a schema any JSON value is accepted (the empty schema).
  return {GuidedKind::json_schema, schema ? simdjson::minify(*schema) : "{}"};
}

std::optional<GuidedDecoding> response_format(const RequestFields& fields) {
  const auto format = fields.object("response_format");
  if (!format) return std::nullopt;
  const auto type = format->string("type");
  if (!type) reject("response_format.type", "'response_format.type' is required");
  if (*type == "text") return std::nullopt;
  if (*type == "json_object") return GuidedDecoding{GuidedKind::json_object, ""};
  if (*type == "json_schema") return json_schema_format(*format);
  reject("response_format.type",
         fmt::format("'response_format.type' must be \"text\", \"json_object\" or \"json_schema\", got \"{}\"", *type));
}

std::string string_field(const simdjson::dom::element& value, const std::string& param) {
  if (!value.is_string()) reject(param, fmt::format("'{}' must be a string, got {}", param, describe_json_type(value)));
  return std::string(std::string_view(value));
}

std::string choice_list(const simdjson::dom::element& value, const std::string& param) {
  simdjson::dom::array choices;
  if (value.get_array().get(choices) || choices.size() == 0) {
    reject(param, fmt::format("'{}' must be a non-empty list of strings", param));
  }
  for (auto choice : choices) {
    if (!choice.is_string()) reject(param, fmt::format("'{}' must list strings only", param));
  }
  return simdjson::minify(value);
}

// The constraint of one vLLM field (`key` as in guided_<key> or structured_outputs.<key>).
std::optional<GuidedDecoding> vllm_constraint(std::string_view key, const simdjson::dom::element& value,
                                              const std::string& param) {
  if (key == "json") return GuidedDecoding{GuidedKind::json_schema, schema_text(value, param)};
  if (key == "regex") return GuidedDecoding{GuidedKind::regex, string_field(value, param)};
  if (key == "choice") return GuidedDecoding{GuidedKind::choice, choice_list(value, param)};
  if (key == "grammar") return GuidedDecoding{GuidedKind::grammar, string_field(value, param)};
  if (key == "json_object") {
    if (!value.is_bool()) reject(param, fmt::format("'{}' must be a boolean", param));
    return bool(value) ? std::optional(GuidedDecoding{GuidedKind::json_object, ""}) : std::nullopt;
  }
  return std::nullopt;
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

std::optional<OutputConstraint> read_output_constraint(const RequestFields& fields) {
  std::vector<OutputConstraint> found;
  if (auto guided = response_format(fields)) found.push_back({std::move(*guided), "response_format"});
  for (std::string_view key : {"json", "regex", "choice", "grammar"}) {
    const std::string name = fmt::format("guided_{}", key);
    if (const auto value = fields.get(name)) {
      if (auto guided = vllm_constraint(key, *value, name)) found.push_back({std::move(*guided), name});
    }
  }
  if (const auto outputs = fields.object("structured_outputs")) {
    for (const auto field : outputs->raw()) {
      const std::string name = fmt::format("structured_outputs.{}", std::string_view(field.key));
      if (field.value.is_null()) continue;
      if (auto guided = vllm_constraint(field.key, field.value, name)) {
        found.push_back({std::move(*guided), name});
      } else if (field.key != "json_object" && field.key != "disable_any_whitespace" &&
                 field.key != "disable_additional_properties" && field.key != "whitespace_pattern") {
        reject(name, fmt::format("'{}' is not a structured output Sabre knows (json, regex, choice, grammar, "
                                 "json_object)", name));
      } else if (field.key == "whitespace_pattern") {
        reject(name, fmt::format("'{}' is not supported", name));
      }
    }
  }
  if (fields.get("guided_whitespace_pattern")) {
    reject("guided_whitespace_pattern", "'guided_whitespace_pattern' is not supported");
  }
  if (found.size() > 1) {
    reject(found[1].field, fmt::format("only one output constraint may be given, got '{}' and '{}'", found[0].field,
                                       found[1].field));
  }
  if (found.empty()) return std::nullopt;
  return std::move(found.front());
}

}  // namespace sabre::openai
