#pragma once
// Loads the HF `tokenizers` goldens made by tests/fixtures/tokenizer/make_goldens.py.

#include <simdjson.h>

#include <filesystem>
#include <string>
#include <vector>

#include "model/tokenizer/tokenizer.hpp"

namespace sabre::test {

struct GoldenCase {
  std::string text;
  std::vector<TokenId> ids_plain;      // add_special_tokens = false
  std::vector<TokenId> ids_special;    // add_special_tokens = true
  std::string decoded_keep_special;    // decode(ids_special, skip_special_tokens = false)
  std::string decoded_skip_special;    // decode(ids_special, skip_special_tokens = true)
  std::string decoded_plain;           // decode(ids_plain, skip_special_tokens = false)
};

struct GoldenDecode {
  std::vector<TokenId> ids;
  std::string keep_special;
  std::string skip_special;
};

struct Goldens {
  std::vector<GoldenCase> cases;
  std::vector<GoldenDecode> decode_only;
};

inline std::filesystem::path fixture_dir() { return std::filesystem::path(SABRE_TEST_FIXTURES) / "tokenizer"; }
inline std::filesystem::path shared_tokenizer(const std::string& name) {
  return std::filesystem::path(SABRE_SHARED_DIR) / "models" / "tokenizers" / name / "tokenizer.json";
}

inline std::vector<TokenId> to_ids(simdjson::dom::array arr) {
  std::vector<TokenId> ids;
  for (auto v : arr) ids.push_back(static_cast<TokenId>(int64_t(v)));
  return ids;
}

inline Goldens load_goldens(const std::string& name) {
  simdjson::dom::parser parser;
  simdjson::dom::element corpus = parser.load((fixture_dir() / "corpus.json").string());
  std::vector<std::string> texts;
  for (auto s : corpus.get_array()) texts.emplace_back(std::string_view(s));

  simdjson::dom::parser golden_parser;
  simdjson::dom::element doc = golden_parser.load((fixture_dir() / ("goldens_" + name + ".json")).string());
  Goldens g;
  size_t i = 0;
  for (auto c : doc["cases"].get_array()) {
    simdjson::dom::array row = c.get_array();
    GoldenCase gc;
    gc.text = texts.at(i++);
    gc.ids_plain = to_ids(row.at(0).get_array());
    gc.ids_special = to_ids(row.at(1).get_array());
    gc.decoded_keep_special = std::string(std::string_view(row.at(2)));
    gc.decoded_skip_special = std::string(std::string_view(row.at(3)));
    gc.decoded_plain = std::string(std::string_view(row.at(4)));
    g.cases.push_back(std::move(gc));
  }
  for (auto c : doc["decode_only"].get_array()) {
    simdjson::dom::array row = c.get_array();
    g.decode_only.push_back({to_ids(row.at(0).get_array()), std::string(std::string_view(row.at(1))),
                             std::string(std::string_view(row.at(2)))});
  }
  return g;
}

}  // namespace sabre::test
