// The forward pass against Hugging Face transformers: tiny random checkpoints of each architecture
// (tests/fixtures/models/make_tiny_models.py) with HF's greedy continuation and logits. Greedy ids must be
// identical for 32 steps and every logit within 1e-3, whether the sequence is computed in one prefill,
// token by token from the KV cache, in prompt chunks, or batched with another sequence.

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/transformer.hpp"

using namespace sabre;
namespace fs = std::filesystem;

namespace {

constexpr float kTolerance = 1e-3f;

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

Golden load_golden(const fs::path& dir) {
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

float max_abs_diff(std::span<const float> a, std::span<const float> b) {
  REQUIRE(a.size() == b.size());
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

int32_t argmax(std::span<const float> v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

const char* const kModels[] = {"llama_rope_llama3", "llama_rope_linear", "llama_gqa_untied", "llama_gqa_bf16",
                               "qwen2_bias",        "qwen2_sharded",     "qwen3_qknorm"};

}  // namespace

TEST_CASE("greedy decoding matches transformers for 32 steps, logits within 1e-3", "[model][hf]") {
  CpuBackend backend;
  for (const char* name : kModels) {
    SECTION(name) {
      const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / name;
      const Golden golden = load_golden(dir);
      Checkpoint checkpoint = open_checkpoint(dir);
      Transformer model(checkpoint.config, *checkpoint.weights, backend);
      REQUIRE(model.config().vocab_size == golden.vocab);

      auto kv = model.create_kv_cache(64);
      ForwardBatch batch;
      std::vector<float> logits(static_cast<size_t>(golden.vocab));
      batch.add_sequence(golden.prompt, 0, kv.get(), true);
      model.forward(batch, logits);
      int64_t cached = static_cast<int64_t>(golden.prompt.size());
      float worst = 0;
      std::vector<int32_t> generated;
      for (size_t step = 0; step < golden.greedy.size(); ++step) {
        worst = std::max(worst, max_abs_diff(logits, golden.row(cached - 1)));
        const int32_t next = argmax(logits);
        generated.push_back(next);
        if (step + 1 == golden.greedy.size()) break;
        batch.clear();
        const int32_t token[] = {next};
        batch.add_sequence(token, cached, kv.get(), true);
        model.forward(batch, logits);
        ++cached;
      }
      INFO(name << ": worst logit difference " << worst);
      CHECK(generated == golden.greedy);
      CHECK(worst < kTolerance);
    }
  }
}

TEST_CASE("one prefill over the whole sequence gives every row's logits", "[model][hf]") {
  CpuBackend backend;
  for (const char* name : kModels) {
    SECTION(name) {
      const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / name;
      const Golden golden = load_golden(dir);
      Checkpoint checkpoint = open_checkpoint(dir);
      Transformer model(checkpoint.config, *checkpoint.weights, backend);
      const auto sequence = golden.sequence();
      auto kv = model.create_kv_cache(static_cast<int64_t>(sequence.size()));
      ForwardBatch batch;
      batch.add_sequence(sequence, 0, kv.get(), false);
      for (int32_t r = 0; r < golden.rows; ++r) batch.logit_rows.push_back(r);
      std::vector<float> logits(golden.logits.size());
      model.forward(batch, logits);
      const float worst = max_abs_diff(logits, golden.logits);
      INFO(name << ": worst logit difference " << worst);
      CHECK(worst < kTolerance);
    }
  }
}

TEST_CASE("chunked prefill and two sequences in one batch agree with HF", "[model][hf]") {
  CpuBackend backend;
  const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / "qwen3_qknorm";
  const Golden golden = load_golden(dir);
  Checkpoint checkpoint = open_checkpoint(dir);
  Transformer model(checkpoint.config, *checkpoint.weights, backend);
  const auto sequence = golden.sequence();
  const auto length = static_cast<int64_t>(sequence.size());

  SECTION("chunks of 5 tokens reading earlier chunks from the cache") {
    auto kv = model.create_kv_cache(length);
    ForwardBatch batch;
    std::vector<float> logits;
    float worst = 0;
    for (int64_t start = 0; start < length; start += 5) {
      const int64_t n = std::min<int64_t>(5, length - start);
      batch.clear();
      batch.add_sequence(std::span(sequence).subspan(static_cast<size_t>(start), static_cast<size_t>(n)), start,
                         kv.get(), false);
      for (int64_t r = 0; r < n; ++r) batch.logit_rows.push_back(static_cast<int32_t>(r));
      logits.resize(static_cast<size_t>(n * golden.vocab));
      model.forward(batch, logits);
      for (int64_t r = 0; r < n; ++r) {
        worst = std::max(worst, max_abs_diff(std::span(logits).subspan(static_cast<size_t>(r * golden.vocab),
                                                                       static_cast<size_t>(golden.vocab)),
                                             golden.row(start + r)));
      }
    }
    CHECK(worst < kTolerance);
  }

  SECTION("a decode row and a prompt chunk of another sequence in one step") {
    // Sequence A has its first 20 tokens cached and decodes token 20; sequence B prefills 12 tokens.
    auto kv_a = model.create_kv_cache(length);
    auto kv_b = model.create_kv_cache(length);
    ForwardBatch batch;
    batch.add_sequence(std::span(sequence).first(20), 0, kv_a.get(), false);
    std::vector<float> none;
    model.forward(batch, none);

    batch.clear();
    batch.add_sequence(std::span(sequence).subspan(20, 1), 20, kv_a.get(), true);
    batch.add_sequence(std::span(sequence).first(12), 0, kv_b.get(), true);
    std::vector<float> logits(static_cast<size_t>(2 * golden.vocab));
    model.forward(batch, logits);
    const auto vocab = static_cast<size_t>(golden.vocab);
    CHECK(max_abs_diff(std::span(logits).first(vocab), golden.row(20)) < kTolerance);
    CHECK(max_abs_diff(std::span(logits).subspan(vocab, vocab), golden.row(11)) < kTolerance);
  }
}

TEST_CASE("inconsistent batches are rejected with a reason", "[model]") {
  CpuBackend backend;
  const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / "llama_rope_linear";
  Checkpoint checkpoint = open_checkpoint(dir);
  Transformer model(checkpoint.config, *checkpoint.weights, backend);
  auto kv = model.create_kv_cache(4);
  std::vector<float> logits(static_cast<size_t>(model.config().vocab_size));
  ForwardBatch batch;

  const int32_t out_of_vocab[] = {1, 9999};
  batch.add_sequence(out_of_vocab, 0, kv.get(), true);
  CHECK_THROWS_WITH(model.forward(batch, logits), Catch::Contains("9999") && Catch::Contains("vocabulary"));

  batch.clear();
  const int32_t too_many[] = {1, 2, 3, 4, 5};
  batch.add_sequence(too_many, 0, kv.get(), true);
  CHECK_THROWS_WITH(model.forward(batch, logits), Catch::Contains("cache holds 4"));

  batch.clear();
  const int32_t ok[] = {1, 2};
  batch.add_sequence(ok, 0, kv.get(), true);
  batch.positions[1] = 7;
  CHECK_THROWS_WITH(model.forward(batch, logits), Catch::Contains("position 7"));

  batch.clear();
  batch.add_sequence(ok, 0, kv.get(), true);
  std::vector<float> wrong_size(3);
  CHECK_THROWS_WITH(model.forward(batch, wrong_size), Catch::Contains("logits"));
}
