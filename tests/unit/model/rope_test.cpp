// RoPE frequencies for each scaling type against transformers' own (tests/fixtures/models/rope_golden.json,
// made by make_rope_golden.py), through the same config.json parsing a real checkpoint goes through.

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <string>

#include "config/model_config.hpp"
#include "model/rope.hpp"

using namespace sabre;

TEST_CASE("rope frequencies match transformers for default, linear, llama3, yarn and dynamic", "[model][rope]") {
  simdjson::dom::parser parser;
  const auto path = std::filesystem::path(SABRE_TEST_FIXTURES) / "models" / "rope_golden.json";
  simdjson::dom::element doc = parser.load(path.string());
  int cases = 0;
  for (simdjson::dom::element c : doc["cases"].get_array()) {
    const std::string name{std::string_view(c["name"])};
    INFO(name);
    const std::string config_text = simdjson::minify(c["config"]);
    const ModelConfig config = parse_model_config(config_text, name);
    const RopeFrequencies rope = rope_frequencies(config, c["sequence_length"].get_int64());
    simdjson::dom::array expected = c["inv_freq"].get_array();
    REQUIRE(rope.inv_freq.size() == expected.size());
    size_t i = 0;
    double worst_relative = 0;
    for (double e : expected) {
      worst_relative = std::max(worst_relative, std::abs(rope.inv_freq[i++] - e) / e);
    }
    CHECK(worst_relative < 1e-5);
    CHECK(rope.attention_scaling == Approx(double(c["attention_scaling"])).epsilon(1e-6));
    ++cases;
  }
  CHECK(cases == 7);
}

TEST_CASE("only dynamic scaling depends on the sequence length", "[model][rope]") {
  ModelConfig config;
  config.head_dim = 64;
  config.max_position_embeddings = 128;
  config.rope_theta = 10000;
  CHECK_FALSE(rope_depends_on_length(config));
  config.rope_scaling.type = RopeScalingType::dynamic;
  config.rope_scaling.factor = 2;
  CHECK(rope_depends_on_length(config));
  CHECK(rope_frequencies(config, 64).inv_freq == rope_frequencies(config, 128).inv_freq);
  CHECK(rope_frequencies(config, 512).inv_freq[1] < rope_frequencies(config, 128).inv_freq[1]);
}
