#pragma once
// A tiny fixture model (tests/fixtures/models/NAME) loaded on the CPU backend, with the prompt of its
// golden.json and HF's greedy continuation of it; shared by the generate() tests.

#include <simdjson.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/transformer.hpp"

namespace sabre::generator_test {

struct GreedyFixture {
  CpuBackend backend{2};
  Checkpoint checkpoint;
  std::unique_ptr<Transformer> model;
  std::vector<int32_t> prompt, greedy;

  explicit GreedyFixture(const char* name) {
    const std::filesystem::path dir = std::filesystem::path(SABRE_TEST_FIXTURES) / "models" / name;
    checkpoint = open_checkpoint(dir);
    model = std::make_unique<Transformer>(checkpoint.config, *checkpoint.weights, backend);
    simdjson::dom::parser parser;
    simdjson::dom::element doc = parser.load((dir / "golden.json").string());
    for (int64_t id : doc["prompt_ids"].get_array()) prompt.push_back(static_cast<int32_t>(id));
    for (int64_t id : doc["greedy_ids"].get_array()) greedy.push_back(static_cast<int32_t>(id));
  }
};

}  // namespace sabre::generator_test
