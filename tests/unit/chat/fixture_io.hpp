#pragma once
// Reads the chat goldens made by tests/fixtures/chat/make_goldens.py.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "model/chat/value.hpp"

namespace sabre::chat::testing {

inline std::filesystem::path chat_fixtures() { return std::filesystem::path(SABRE_TEST_FIXTURES) / "chat"; }

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The "cases" array of a golden file.
inline Array golden_cases(const std::string& file_name) {
  const Value root = Value::from_json(read_text(chat_fixtures() / file_name), file_name);
  return root.as_object().find("cases")->as_array();
}

inline std::string field(const Value& object, const char* key) {
  const Value* v = object.as_object().find(key);
  return v && v->is_string() ? v->as_string() : std::string();
}

inline bool has(const Value& object, const char* key) { return object.as_object().find(key) != nullptr; }

}  // namespace sabre::chat::testing
