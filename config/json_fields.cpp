#include "config/json_fields.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace sabre {

std::string_view json_type_name(const simdjson::dom::element& element) {
  switch (element.type()) {
    case simdjson::dom::element_type::ARRAY: return "an array";
    case simdjson::dom::element_type::OBJECT: return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64: return "an integer";
    case simdjson::dom::element_type::DOUBLE: return "a number";
    case simdjson::dom::element_type::STRING: return "a string";
    case simdjson::dom::element_type::BOOL: return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE: return "null";
  }
  return "an unknown JSON value";
}

JsonFields::JsonFields(simdjson::dom::object object, std::string origin, std::string prefix)
    : object_(object), origin_(std::move(origin)), prefix_(std::move(prefix)) {}

JsonFields JsonFields::parse_object(simdjson::dom::parser& parser, std::string_view text,
                                    std::string_view origin) {
  simdjson::dom::element root;
  if (auto error = parser.parse(text.data(), text.size()).get(root)) {
    throw ConfigError(fmt::format("{}: not valid JSON ({})", origin, simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    throw ConfigError(fmt::format("{}: expected a JSON object at the top level, found {}", origin,
                                  json_type_name(root)));
  }
  return JsonFields(object, std::string(origin));
}

std::string JsonFields::where(std::string_view key) const {
  return fmt::format("{}: field '{}{}'", origin_, prefix_, key);
}

void JsonFields::fail(std::string_view key, std::string_view problem) const {
  throw ConfigError(fmt::format("{} {}", where(key), problem));
}

bool JsonFields::present(std::string_view key) const {
  simdjson::dom::element element;
  return !object_.at_key(key).get(element);
}

std::optional<simdjson::dom::element> JsonFields::get(std::string_view key) const {
  simdjson::dom::element element;
  if (object_.at_key(key).get(element) || element.is_null()) return std::nullopt;
  return element;
}

bool JsonFields::has(std::string_view key) const { return get(key).has_value(); }

std::optional<int64_t> JsonFields::optional_int(std::string_view key) const {
  auto element = get(key);
  if (!element) return std::nullopt;
  if (element->is_int64()) return int64_t(*element);
  // Some writers emit whole numbers as 64.0; accept those, reject 64.5.
  if (element->is_double()) {
    double d = double(*element);
    if (std::floor(d) == d && std::abs(d) < 9e15) return static_cast<int64_t>(d);
  }
  if (element->is_uint64()) fail(key, "is an integer too large for int64");
  fail(key, fmt::format("must be an integer, found {}", json_type_name(*element)));
}

int64_t JsonFields::required_int(std::string_view key) const {
  auto value = optional_int(key);
  if (!value) fail(key, present(key) ? "must be an integer, found null" : "is missing (an integer is required)");
  return *value;
}

std::optional<double> JsonFields::optional_number(std::string_view key) const {
  auto element = get(key);
  if (!element) return std::nullopt;
  if (element->is_number()) {
    double value = 0;
    if (element->get_double().get(value) == simdjson::SUCCESS) return value;
    if (element->is_int64()) return static_cast<double>(int64_t(*element));
    if (element->is_uint64()) return static_cast<double>(uint64_t(*element));
  }
  fail(key, fmt::format("must be a number, found {}", json_type_name(*element)));
}

double JsonFields::required_number(std::string_view key) const {
  auto value = optional_number(key);
  if (!value) fail(key, present(key) ? "must be a number, found null" : "is missing (a number is required)");
  return *value;
}

std::optional<bool> JsonFields::optional_bool(std::string_view key) const {
  auto element = get(key);
  if (!element) return std::nullopt;
  if (!element->is_bool()) fail(key, fmt::format("must be true or false, found {}", json_type_name(*element)));
  return bool(*element);
}

std::optional<std::string> JsonFields::optional_string(std::string_view key) const {
  auto element = get(key);
  if (!element) return std::nullopt;
  if (!element->is_string()) fail(key, fmt::format("must be a string, found {}", json_type_name(*element)));
  return std::string(std::string_view(*element));
}

std::string JsonFields::required_string(std::string_view key) const {
  auto value = optional_string(key);
  if (!value) fail(key, present(key) ? "must be a string, found null" : "is missing (a string is required)");
  return *value;
}

std::vector<int32_t> JsonFields::int_or_int_list(std::string_view key) const {
  auto element = get(key);
  if (!element) return {};
  auto to_id = [&](const simdjson::dom::element& item) -> int32_t {
    if (!item.is_int64()) {
      fail(key, fmt::format("must be an integer or a list of integers, found {}", json_type_name(item)));
    }
    int64_t value = int64_t(item);
    if (value < 0 || value > std::numeric_limits<int32_t>::max()) {
      fail(key, fmt::format("holds {}, which is not a valid token id", value));
    }
    return static_cast<int32_t>(value);
  };
  std::vector<int32_t> ids;
  if (element->is_array()) {
    for (simdjson::dom::element item : simdjson::dom::array(*element)) ids.push_back(to_id(item));
  } else {
    ids.push_back(to_id(*element));
  }
  return ids;
}

std::optional<JsonFields> JsonFields::optional_object(std::string_view key) const {
  auto element = get(key);
  if (!element) return std::nullopt;
  if (!element->is_object()) fail(key, fmt::format("must be an object, found {}", json_type_name(*element)));
  return JsonFields(simdjson::dom::object(*element), origin_, fmt::format("{}{}.", prefix_, key));
}

JsonFields JsonFields::required_object(std::string_view key) const {
  auto value = optional_object(key);
  if (!value) fail(key, "is missing (an object is required)");
  return *value;
}

}  // namespace sabre
