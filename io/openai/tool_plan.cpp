#include "io/openai/tool_plan.hpp"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "config/text/json_writer.hpp"

namespace sabre::openai {
namespace {

struct Function {
  std::string name;
  std::string parameters;  // a JSON Schema, as text
};

std::vector<Function> functions(const RequestFields& fields) {
  std::vector<Function> out;
  simdjson::dom::array tools;
  if (const auto value = fields.get("tools"); !value || value->get_array().get(tools)) return out;
  for (auto tool : tools) {
    simdjson::dom::element function, name, parameters;
    if (tool["function"].get(function) || function["name"].get(name) || !name.is_string()) continue;
    // A function without parameters takes none: the empty object.
    const bool has_parameters = !function["parameters"].get(parameters) && !parameters.is_null();
    out.push_back({std::string(std::string_view(name)),
                   has_parameters ? simdjson::minify(parameters) : R"({"type":"object","properties":{}})"});
  }
  return out;
}

std::string quoted(const std::string& s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// A JSON list of one or more calls {"name": <a declared function>, "parameters": <its arguments>}; one
// only when parallel calls are off.
std::string required_schema(const std::vector<Function>& declared, bool parallel) {
  std::string branches;
  for (const Function& f : declared) {
    if (!branches.empty()) branches += ',';
    branches += fmt::format(R"({{"type":"object","properties":{{"name":{{"const":{}}},"parameters":{}}},)"
                            R"("required":["name","parameters"]}})",
                            quoted(f.name), f.parameters);
  }
  return fmt::format(R"({{"type":"array","minItems":1,{}"items":{{"anyOf":[{}]}}}})", parallel ? "" : R"("maxItems":1,)",
                     branches);
}

}  // namespace

ToolPlan read_tool_plan(const RequestFields& fields, ToolCallFormat format) {
  ToolPlan plan;
  const std::vector<Function> declared = functions(fields);
  if (declared.empty()) return plan;
  const auto choice = fields.get("tool_choice");
  if (choice && choice->is_string()) {
    const std::string_view value = std::string_view(*choice);
    if (value == "none") return plan;
    if (value == "required") {
      plan.mode = ToolPlan::Mode::required;
      const bool parallel = fields.boolean("parallel_tool_calls").value_or(true);
      plan.constraint = GuidedDecoding{GuidedKind::json_schema, required_schema(declared, parallel)};
      return plan;
    }
  } else if (choice && choice->is_object()) {
    simdjson::dom::element function, name;
    if (!(*choice)["function"].get(function) && !function["name"].get(name) && name.is_string()) {
      plan.mode = ToolPlan::Mode::named;
      plan.function = std::string(std::string_view(name));
      for (const Function& f : declared) {
        if (f.name == plan.function) plan.constraint = GuidedDecoding{GuidedKind::json_schema, f.parameters};
      }
      return plan;
    }
  }
  plan.mode = ToolPlan::Mode::parse;  // "auto", the default with tools
  plan.format = format;
  return plan;
}

}  // namespace sabre::openai
