#include "io/openai/request_fields.hpp"

#include <fmt/format.h>

#include <cmath>

#include "io/openai/api_error.hpp"

namespace sabre::openai {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string_view describe_json_type(const element& e) {
  switch (e.type()) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64: return "an integer";
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "an unknown JSON value";
}

simdjson::dom::object parse_body_object(simdjson::dom::parser& parser, std::string_view body) {
  element root;
  if (auto error = parser.parse(body.data(), body.size()).get(root)) {
    if (error == simdjson::UTF8_ERROR) reject("", "the request body is not valid UTF-8");
    if (error == simdjson::EMPTY) reject("", "the request body is empty: expected a JSON object");
    reject("", fmt::format("the request body is not valid JSON: {}", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    reject("", fmt::format("the request body must be a JSON object, got {}", describe_json_type(root)));
  }
  return object;
}

int64_t integer_value(const element& e, const std::string& param, int64_t min, int64_t max) {
  int64_t value = 0;
  if (e.is_int64()) {
    value = e.get_int64().value();
  } else if (e.is_uint64()) {
    // Beyond int64, so above any bound.
    reject(param, fmt::format("'{}' must be at most {}, got {}", param, max, e.get_uint64().value()));
  } else if (e.is_double()) {
    const double d = e.get_double().value();
    if (!(std::floor(d) == d) || std::fabs(d) > 9.0e18) {
      reject(param, fmt::format("'{}' must be an integer, got {}", param, d));
    }
    value = static_cast<int64_t>(d);
  } else {
    reject(param, fmt::format("'{}' must be an integer, got {}", param, describe_json_type(e)));
  }
  if (value < min) reject(param, fmt::format("'{}' must be at least {}, got {}", param, min, value));
  if (value > max) reject(param, fmt::format("'{}' must be at most {}, got {}", param, max, value));
  return value;
}

std::string string_value(const element& e, const std::string& param) {
  std::string_view text;
  if (e.get_string().get(text)) {
    reject(param, fmt::format("'{}' must be a string, got {}", param, describe_json_type(e)));
  }
  return std::string(text);
}

RequestFields::RequestFields(simdjson::dom::object object, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {}

std::optional<element> RequestFields::get(std::string_view key) const {
  element e;
  if (object_.at_key(key).get(e) || e.is_null()) return std::nullopt;
  return e;
}

std::optional<int64_t> RequestFields::integer(std::string_view key, int64_t min, int64_t max) const {
  const auto e = get(key);
  if (!e) return std::nullopt;
  return integer_value(*e, param(key), min, max);
}

std::optional<double> RequestFields::number(std::string_view key, double min, double max) const {
  const auto e = get(key);
  if (!e) return std::nullopt;
  double value = 0;
  if (e->is_int64()) {
    value = static_cast<double>(e->get_int64().value());
  } else if (e->is_uint64()) {
    value = static_cast<double>(e->get_uint64().value());
  } else if (e->is_double()) {
    value = e->get_double().value();
  } else {
    reject(param(key), fmt::format("'{}' must be a number, got {}", param(key), describe_json_type(*e)));
  }
  if (!std::isfinite(value)) reject(param(key), fmt::format("'{}' must be a finite number", param(key)));
  if (value < min) reject(param(key), fmt::format("'{}' must be at least {}, got {}", param(key), min, value));
  if (value > max) reject(param(key), fmt::format("'{}' must be at most {}, got {}", param(key), max, value));
  return value;
}

std::optional<bool> RequestFields::boolean(std::string_view key) const {
  const auto e = get(key);
  if (!e) return std::nullopt;
  bool value = false;
  if (!e->get_bool().get(value)) return value;
  std::string_view text;
  if (!e->get_string().get(text)) {
    if (text == "true" || text == "True") return true;
    if (text == "false" || text == "False") return false;
  }
  reject(param(key), fmt::format("'{}' must be true or false, got {}", param(key), describe_json_type(*e)));
}

std::optional<std::string> RequestFields::string(std::string_view key) const {
  const auto e = get(key);
  if (!e) return std::nullopt;
  return string_value(*e, param(key));
}

std::optional<std::vector<std::string>> RequestFields::string_or_strings(std::string_view key) const {
  const auto e = get(key);
  if (!e) return std::nullopt;
  std::vector<std::string> out;
  if (e->is_string()) {
    out.push_back(std::string(e->get_string().value()));
    return out;
  }
  simdjson::dom::array items;
  if (e->get_array().get(items)) {
    reject(param(key), fmt::format("'{}' must be a string or a list of strings, got {}", param(key),
                                   describe_json_type(*e)));
  }
  size_t i = 0;
  for (element item : items) out.push_back(string_value(item, fmt::format("{}[{}]", param(key), i++)));
  return out;
}

std::optional<std::vector<int64_t>> RequestFields::integers(std::string_view key, int64_t min, int64_t max) const {
  const auto e = get(key);
  if (!e) return std::nullopt;
  simdjson::dom::array items;
  if (e->get_array().get(items)) {
    reject(param(key), fmt::format("'{}' must be a list of integers, got {}", param(key), describe_json_type(*e)));
  }
  std::vector<int64_t> out;
  size_t i = 0;
  for (element item : items) out.push_back(integer_value(item, fmt::format("{}[{}]", param(key), i++), min, max));
  return out;
}

std::optional<RequestFields> RequestFields::object(std::string_view key) const {
  const auto e = get(key);
  if (!e) return std::nullopt;
  simdjson::dom::object object;
  if (e->get_object().get(object)) {
    reject(param(key), fmt::format("'{}' must be an object, got {}", param(key), describe_json_type(*e)));
  }
  return RequestFields(object, param(key) + ".");
}

}  // namespace sabre::openai
