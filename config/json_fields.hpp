#pragma once
// Typed access to the fields of a parsed JSON object, with errors that name the file, the field and what
// was expected. Shared by every reader of Hugging Face's JSON files (config.json, generation_config.json,
// safetensors headers and index files) so that their messages read the same way.

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sabre {

// Thrown for a malformed or unsupported configuration file; the message names the file and the field.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A JSON object together with the name of its file and its path inside the file ("rope_scaling"), so
// that every error can say exactly where the problem is.
class JsonFields {
 public:
  JsonFields(simdjson::dom::object object, std::string origin, std::string prefix = "");

  // Parses `text` as a JSON object (the caller keeps `parser` alive as long as the result is used).
  static JsonFields parse_object(simdjson::dom::parser& parser, std::string_view text,
                                 std::string_view origin);

  bool has(std::string_view key) const;       // present and not null
  bool present(std::string_view key) const;   // present, possibly null
  std::optional<simdjson::dom::element> get(std::string_view key) const;  // nullopt when absent or null

  int64_t required_int(std::string_view key) const;
  std::optional<int64_t> optional_int(std::string_view key) const;
  double required_number(std::string_view key) const;
  std::optional<double> optional_number(std::string_view key) const;
  std::optional<bool> optional_bool(std::string_view key) const;
  std::string required_string(std::string_view key) const;
  std::optional<std::string> optional_string(std::string_view key) const;
  // An int or a list of ints (eos_token_id); empty when absent or null.
  std::vector<int32_t> int_or_int_list(std::string_view key) const;
  std::optional<JsonFields> optional_object(std::string_view key) const;
  JsonFields required_object(std::string_view key) const;

  simdjson::dom::object object() const { return object_; }
  const std::string& origin() const { return origin_; }
  // "file: field 'rope_scaling.factor'" for messages.
  std::string where(std::string_view key) const;
  [[noreturn]] void fail(std::string_view key, std::string_view problem) const;

 private:
  simdjson::dom::object object_;
  std::string origin_;
  std::string prefix_;
};

// The JSON type of an element, spelled for messages ("a string", "an array", ...).
std::string_view json_type_name(const simdjson::dom::element& element);

}  // namespace sabre
