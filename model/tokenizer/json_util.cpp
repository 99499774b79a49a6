#include "model/tokenizer/json_util.hpp"

namespace sabre::tokenizer_json {

Object as_object(Element e, const Where& where) {
  Object obj;
  if (e.get(obj) != simdjson::SUCCESS) where.fail("expected a JSON object");
  return obj;
}

Array as_array(Element e, const Where& where) {
  Array arr;
  if (e.get(arr) != simdjson::SUCCESS) where.fail("expected a JSON array");
  return arr;
}

std::string_view as_string(Element e, const Where& where) {
  std::string_view s;
  if (e.get(s) != simdjson::SUCCESS) where.fail("expected a JSON string");
  return s;
}

int64_t as_int(Element e, const Where& where) {
  int64_t v = 0;
  if (e.get(v) == simdjson::SUCCESS) return v;
  uint64_t u = 0;
  if (e.get(u) == simdjson::SUCCESS && u <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(u);
  where.fail("expected an integer");
}

bool as_bool(Element e, const Where& where) {
  bool b = false;
  if (e.get(b) != simdjson::SUCCESS) where.fail("expected true or false");
  return b;
}

Element member(Object obj, std::string_view key, const Where& where) {
  Element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS) {
    where.fail(fmt::format("missing required field \"{}\"", key));
  }
  return e;
}

std::optional<Element> optional_member(Object obj, std::string_view key) {
  Element e;
  if (obj.at_key(key).get(e) != simdjson::SUCCESS || e.is_null()) return std::nullopt;
  return e;
}

std::string_view string_member(Object obj, std::string_view key, const Where& where) {
  return as_string(member(obj, key, where), where / key);
}

std::optional<std::string_view> optional_string_member(Object obj, std::string_view key, const Where& where) {
  auto e = optional_member(obj, key);
  if (!e) return std::nullopt;
  return as_string(*e, where / key);
}

bool bool_member_or(Object obj, std::string_view key, bool fallback, const Where& where) {
  auto e = optional_member(obj, key);
  return e ? as_bool(*e, where / key) : fallback;
}

int64_t int_member_or(Object obj, std::string_view key, int64_t fallback, const Where& where) {
  auto e = optional_member(obj, key);
  return e ? as_int(*e, where / key) : fallback;
}

std::string_view type_of(Object obj, const Where& where) { return string_member(obj, "type", where); }

}  // namespace sabre::tokenizer_json
