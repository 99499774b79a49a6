#pragma once
// Reading the fields of a request body: typed getters over a simdjson object whose every failure is an
// ApiException (400) naming the field and what was wrong. A field that is absent or null takes its
// default, and fields the reader is never asked about are ignored, as vLLM does.

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sabre::openai {

// Parses a request body that must be a JSON object. Throws ApiException (400) for malformed JSON,
// invalid UTF-8 or another top-level value. `parser` must outlive the returned object.
simdjson::dom::object parse_body_object(simdjson::dom::parser& parser, std::string_view body);

// "a string", "an integer", ... for messages.
std::string_view describe_json_type(const simdjson::dom::element& element);

class RequestFields {
 public:
  // `prefix` names the object inside the body ("stream_options.", "messages[2].") in `param`.
  explicit RequestFields(simdjson::dom::object object, std::string prefix = "");

  std::optional<simdjson::dom::element> get(std::string_view key) const;  // absent or null: nullopt
  std::string param(std::string_view key) const { return prefix_ + std::string(key); }

  // An integer (an integral number such as 16.0 counts) within [min, max].
  std::optional<int64_t> integer(std::string_view key, int64_t min, int64_t max) const;
  // A finite number within [min, max].
  std::optional<double> number(std::string_view key, double min, double max) const;
  // true/false, or the strings "true"/"false" (BladeLLM clients send "stream": "true").
  std::optional<bool> boolean(std::string_view key) const;
  std::optional<std::string> string(std::string_view key) const;
  // A string or a list of strings (stop).
  std::optional<std::vector<std::string>> string_or_strings(std::string_view key) const;
  // A list of integers within [min, max].
  std::optional<std::vector<int64_t>> integers(std::string_view key, int64_t min, int64_t max) const;
  std::optional<RequestFields> object(std::string_view key) const;

  simdjson::dom::object raw() const { return object_; }

 private:
  simdjson::dom::object object_;
  std::string prefix_;
};

// Element-level readers shared with the prompt and message parsers; `param` names the element.
int64_t integer_value(const simdjson::dom::element& element, const std::string& param, int64_t min, int64_t max);
std::string string_value(const simdjson::dom::element& element, const std::string& param);

}  // namespace sabre::openai
