#pragma once
// Helpers for reading tokenizer.json with simdjson's DOM API: every accessor throws a
// std::runtime_error that names the file and the JSON path of the offending value.

#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace sabre::tokenizer_json {

using Element = simdjson::dom::element;
using Object = simdjson::dom::object;
using Array = simdjson::dom::array;

// Where a value sits: the file (or other origin) and a JSON path such as "normalizer.normalizers[1]".
struct Where {
  std::string_view origin;
  std::string path;

  Where operator/(std::string_view key) const { return {origin, path.empty() ? std::string(key) : path + "." + std::string(key)}; }
  Where operator[](size_t index) const { return {origin, fmt::format("{}[{}]", path, index)}; }

  [[noreturn]] void fail(std::string_view what) const {
    throw std::runtime_error(fmt::format("{}: {}: {}", origin, path.empty() ? "<root>" : path, what));
  }
};

Object as_object(Element e, const Where& where);
Array as_array(Element e, const Where& where);
std::string_view as_string(Element e, const Where& where);
int64_t as_int(Element e, const Where& where);
bool as_bool(Element e, const Where& where);

// A member that must exist; `where` names the object that holds it.
Element member(Object obj, std::string_view key, const Where& where);
// A member that may be missing or null.
std::optional<Element> optional_member(Object obj, std::string_view key);

std::string_view string_member(Object obj, std::string_view key, const Where& where);
std::optional<std::string_view> optional_string_member(Object obj, std::string_view key, const Where& where);
bool bool_member_or(Object obj, std::string_view key, bool fallback, const Where& where);
int64_t int_member_or(Object obj, std::string_view key, int64_t fallback, const Where& where);

// The "type" of a component object, e.g. "NFC" or "Sequence".
std::string_view type_of(Object obj, const Where& where);

}  // namespace sabre::tokenizer_json
