#pragma once
// The transformers reference of a tiny fixture model (tests/fixtures/models/NAME/golden.json and
// golden_logits.f32, made by make_tiny_models.py): the prompt, HF's greedy continuation, and HF's logits
// at every position of prompt + greedy[:-1]. Shared by the model tests that compare against it.

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <filesystem>
#include <fstream>
#include <span>
#include <vector>

namespace sabre::model_test {

struct Golden {
  std::vector<int32_t> prompt;
  std::vector<int32_t> greedy;
  int64_t vocab = 0;
  int64_t rows = 0;
  std::vector<float> logits;  // rows x vocab: position r of prompt + greedy[:-1]

  std::span<const float> row(int64_t r) const { return {logits.data() + r * vocab, static_cast<size_t>(vocab)}; }
  std::vector<int32_t> sequence() const {
    std::vector<int32_t> all = prompt;
    all.insert(all.end(), greedy.begin(), greedy.end() - 1);
    return all;
  }
};

inline Golden load_golden(const std::filesystem::path& dir) {
  Golden g;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.load((dir / "golden.json").string());
  for (int64_t id : doc["prompt_ids"].get_array()) g.prompt.push_back(static_cast<int32_t>(id));
  for (int64_t id : doc["greedy_ids"].get_array()) g.greedy.push_back(static_cast<int32_t>(id));
  g.vocab = doc["vocab_size"].get_int64();
  g.rows = doc["logit_rows"].get_int64();
  g.logits.resize(static_cast<size_t>(g.rows * g.vocab));
  std::ifstream in(dir / "golden_logits.f32", std::ios::binary);
  in.read(reinterpret_cast<char*>(g.logits.data()), static_cast<std::streamsize>(g.logits.size() * 4));
  REQUIRE(in.gcount() == static_cast<std::streamsize>(g.logits.size() * 4));
  REQUIRE(static_cast<size_t>(g.rows) == g.prompt.size() + g.greedy.size() - 1);
  return g;
}

}  // namespace sabre::model_test
