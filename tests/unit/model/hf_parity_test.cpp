// The forward pass against Hugging Face transformers: tiny random checkpoints of each architecture
// (tests/fixtures/models/make_tiny_models.py) with HF's greedy continuation and logits. Greedy ids must be
// identical for 32 steps and every logit within 1e-3, whether the sequence is computed in one prefill,
// token by token from the KV cache, in prompt chunks, or batched with another sequence, and whether its
// KV blocks are the pool's first ones in order or scattered over a larger pool (blocks of 16 and of 4).

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/transformer.hpp"
#include "hf_golden.hpp"

using namespace sabre;
namespace fs = std::filesystem;

using sabre::model_test::Golden;
using sabre::model_test::load_golden;

namespace {

constexpr float kTolerance = 1e-3f;

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

// How a test lays a sequence's KV out in a pool.
struct KvLayout {
  const char* name;
  int64_t block_size;
  bool scattered;  // blocks taken in a shuffled order from a pool twice as large (else blocks 0, 1, 2, ...)
};
const KvLayout kLayouts[] = {{"identity table, blocks of 16", 16, false},
                             {"scattered table, blocks of 16", 16, true},
                             {"scattered table, blocks of 4", 4, true}};

SequenceKv make_kv(Transformer& model, int64_t tokens, const KvLayout& layout, uint32_t seed = 1) {
  if (!layout.scattered) return model.create_sequence_kv(tokens, layout.block_size);
  const int64_t blocks = (tokens + layout.block_size - 1) / layout.block_size;
  std::vector<int32_t> ids(static_cast<size_t>(2 * blocks + 3));
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
  ids.resize(static_cast<size_t>(blocks));
  return {model.create_kv_cache(2 * blocks + 3, layout.block_size), ids};
}

}  // namespace

TEST_CASE("greedy decoding matches transformers for 32 steps, logits within 1e-3", "[model][hf]") {
  CpuBackend backend;
  for (const char* name : kModels) {
    for (const KvLayout& layout : kLayouts) {
    DYNAMIC_SECTION(name << ", " << layout.name) {
      const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / name;
      const Golden golden = load_golden(dir);
      Checkpoint checkpoint = open_checkpoint(dir);
      Transformer model(checkpoint.config, *checkpoint.weights, backend);
      REQUIRE(model.config().vocab_size == golden.vocab);

      const SequenceKv kv = make_kv(model, 64, layout);
      ForwardBatch batch;
      std::vector<float> logits(static_cast<size_t>(golden.vocab));
      batch.add_sequence(golden.prompt, 0, kv.cache.get(), kv.block_table, true);
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
        batch.add_sequence(token, cached, kv.cache.get(), kv.block_table, true);
        model.forward(batch, logits);
        ++cached;
      }
      INFO(name << ", " << layout.name << ": worst logit difference " << worst);
      CHECK(generated == golden.greedy);
      CHECK(worst < kTolerance);
    }
    }
  }
}

TEST_CASE("one prefill over the whole sequence gives every row's logits", "[model][hf]") {
  CpuBackend backend;
  for (const char* name : kModels) {
    for (const KvLayout& layout : kLayouts) {
    DYNAMIC_SECTION(name << ", " << layout.name) {
      const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / name;
      const Golden golden = load_golden(dir);
      Checkpoint checkpoint = open_checkpoint(dir);
      Transformer model(checkpoint.config, *checkpoint.weights, backend);
      const auto sequence = golden.sequence();
      const SequenceKv kv = make_kv(model, static_cast<int64_t>(sequence.size()), layout);
      ForwardBatch batch;
      batch.add_sequence(sequence, 0, kv.cache.get(), kv.block_table, false);
      for (int32_t r = 0; r < golden.rows; ++r) batch.logit_rows.push_back(r);
      std::vector<float> logits(golden.logits.size());
      model.forward(batch, logits);
      const float worst = max_abs_diff(logits, golden.logits);
      INFO(name << ", " << layout.name << ": worst logit difference " << worst);
      CHECK(worst < kTolerance);
    }
    }
  }
}

std::span<const float> logits_row(const std::vector<float>& logits, int64_t row, int64_t vocab) {
  return std::span(logits).subspan(static_cast<size_t>(row * vocab), static_cast<size_t>(vocab));
}

TEST_CASE("chunked prefill and two sequences in one batch agree with HF", "[model][hf]") {
  CpuBackend backend;
  const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / "qwen3_qknorm";
  const Golden golden = load_golden(dir);
  Checkpoint checkpoint = open_checkpoint(dir);
  Transformer model(checkpoint.config, *checkpoint.weights, backend);
  const auto sequence = golden.sequence();
  const auto length = static_cast<int64_t>(sequence.size());
  const auto vocab = golden.vocab;

  for (const KvLayout& layout : kLayouts) {
    DYNAMIC_SECTION("chunks of 5 tokens reading earlier chunks through the block table, " << layout.name) {
      const SequenceKv kv = make_kv(model, length, layout);
      ForwardBatch batch;
      std::vector<float> logits;
      float worst = 0;
      for (int64_t start = 0; start < length; start += 5) {
        const int64_t n = std::min<int64_t>(5, length - start);
        batch.clear();
        batch.add_sequence(std::span(sequence).subspan(static_cast<size_t>(start), static_cast<size_t>(n)), start,
                           kv.cache.get(), kv.block_table, false);
        for (int64_t r = 0; r < n; ++r) batch.logit_rows.push_back(static_cast<int32_t>(r));
        logits.resize(static_cast<size_t>(n * vocab));
        model.forward(batch, logits);
        for (int64_t r = 0; r < n; ++r) {
          worst = std::max(worst, max_abs_diff(logits_row(logits, r, vocab), golden.row(start + r)));
        }
      }
      CHECK(worst < kTolerance);
    }
  }

  SECTION("a decode row and a prompt chunk of another sequence in one step, one shared pool") {
    // Sequence A has its first 20 tokens cached and decodes token 20; sequence B prefills 12 tokens. Their
    // blocks of 4 interleave in one pool, in no particular order.
    auto pool = model.create_kv_cache(32, 4);
    const std::vector<int32_t> table_a = {7, 2, 30, 11, 5, 19}, table_b = {3, 28, 12};
    ForwardBatch batch;
    batch.add_sequence(std::span(sequence).first(20), 0, pool.get(), table_a, false);
    std::vector<float> none;
    model.forward(batch, none);

    batch.clear();
    batch.add_sequence(std::span(sequence).subspan(20, 1), 20, pool.get(), table_a, true);
    batch.add_sequence(std::span(sequence).first(12), 0, pool.get(), table_b, true);
    std::vector<float> logits(static_cast<size_t>(2 * vocab));
    model.forward(batch, logits);
    CHECK(max_abs_diff(logits_row(logits, 0, vocab), golden.row(20)) < kTolerance);
    CHECK(max_abs_diff(logits_row(logits, 1, vocab), golden.row(11)) < kTolerance);
  }

  SECTION("a cached prefix read from another sequence's blocks, then a copy-on-write fork") {
    // A computes 18 tokens in blocks of 4: four full blocks and block 9 holding 2. B starts with A's four
    // full blocks as its cached prefix (what the prefix cache hands out) and computes tokens 16..19 itself.
    auto pool = model.create_kv_cache(16, 4);
    const std::vector<int32_t> table_a = {4, 1, 14, 6, 9, 2};
    ForwardBatch batch;
    batch.add_sequence(std::span(sequence).first(18), 0, pool.get(), table_a, false);
    std::vector<float> none;
    model.forward(batch, none);

    const std::vector<int32_t> table_b = {4, 1, 14, 6, 12};
    batch.clear();
    batch.add_sequence(std::span(sequence).subspan(16, 4), 16, pool.get(), table_b, false);
    batch.logit_rows = {0, 1, 2, 3};
    std::vector<float> logits(static_cast<size_t>(4 * vocab));
    model.forward(batch, logits);
    float worst = 0;
    for (int64_t r = 0; r < 4; ++r) worst = std::max(worst, max_abs_diff(logits_row(logits, r, vocab), golden.row(16 + r)));
    CHECK(worst < kTolerance);

    // Fork A after 18 tokens: C gets A's full blocks and a copy of its partial block 9 in block 0, then A and
    // C each append token 18 in their own last block in one step, and then two more tokens.
    const KvBlockCopy copy[] = {{9, 0}};
    backend.copy_kv_blocks(*pool, copy);
    const std::vector<int32_t> table_c = {4, 1, 14, 6, 0, 3};
    for (int64_t p = 18; p < 21; ++p) {
      batch.clear();
      batch.add_sequence(std::span(sequence).subspan(static_cast<size_t>(p), 1), p, pool.get(), table_a, true);
      batch.add_sequence(std::span(sequence).subspan(static_cast<size_t>(p), 1), p, pool.get(), table_c, true);
      logits.resize(static_cast<size_t>(2 * vocab));
      model.forward(batch, logits);
      INFO("position " << p);
      CHECK(max_abs_diff(logits_row(logits, 0, vocab), golden.row(p)) < kTolerance);
      CHECK(max_abs_diff(logits_row(logits, 1, vocab), golden.row(p)) < kTolerance);
    }
  }

  SECTION("without the copy the fork reads a block that does not hold its tokens") {
    // The same fork with block 0 never written: C's logits must then differ, or the test above proves nothing.
    auto pool = model.create_kv_cache(16, 4);
    const std::vector<int32_t> table_a = {4, 1, 14, 6, 9};
    ForwardBatch batch;
    batch.add_sequence(std::span(sequence).first(18), 0, pool.get(), table_a, false);
    std::vector<float> none;
    model.forward(batch, none);
    const std::vector<int32_t> table_c = {4, 1, 14, 6, 0};
    batch.clear();
    batch.add_sequence(std::span(sequence).subspan(18, 1), 18, pool.get(), table_c, true);
    std::vector<float> logits(static_cast<size_t>(vocab));
    model.forward(batch, logits);
    CHECK(max_abs_diff(logits, golden.row(18)) > kTolerance);
  }
}

TEST_CASE("a batch-invariant backend matches HF too", "[model][hf]") {
  CpuBackend backend(CpuBackendOptions{.threads = 0, .batch_invariant = true});
  for (const char* name : {"llama_gqa_untied", "qwen2_bias", "qwen3_qknorm"}) {
    DYNAMIC_SECTION(name) {
      const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / name;
      const Golden golden = load_golden(dir);
      Checkpoint checkpoint = open_checkpoint(dir);
      Transformer model(checkpoint.config, *checkpoint.weights, backend);
      const auto sequence = golden.sequence();
      const SequenceKv kv = make_kv(model, static_cast<int64_t>(sequence.size()), kLayouts[2]);
      ForwardBatch batch;
      batch.add_sequence(sequence, 0, kv.cache.get(), kv.block_table, false);
      for (int32_t r = 0; r < golden.rows; ++r) batch.logit_rows.push_back(r);
      std::vector<float> logits(golden.logits.size());
      model.forward(batch, logits);
      CHECK(max_abs_diff(logits, golden.logits) < kTolerance);
    }
  }
}

TEST_CASE("inconsistent batches are rejected with a reason", "[model]") {
  CpuBackend backend;
  const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / "llama_rope_linear";
  Checkpoint checkpoint = open_checkpoint(dir);
  Transformer model(checkpoint.config, *checkpoint.weights, backend);
  const SequenceKv kv = model.create_sequence_kv(4, 4);
  std::vector<float> logits(static_cast<size_t>(model.config().vocab_size));
  ForwardBatch batch;

  const int32_t out_of_vocab[] = {1, 9999};
  batch.add_sequence(out_of_vocab, 0, kv.cache.get(), kv.block_table, true);
  CHECK_THROWS_WITH(model.forward(batch, logits), Catch::Contains("9999") && Catch::Contains("vocabulary"));

  batch.clear();
  const int32_t too_many[] = {1, 2, 3, 4, 5};
  batch.add_sequence(too_many, 0, kv.cache.get(), kv.block_table, true);
  CHECK_THROWS_WITH(model.forward(batch, logits), Catch::Contains("needs 2 KV blocks of 4 tokens") &&
                                                      Catch::Contains("block table has 1"));

  batch.clear();
  const int32_t ok[] = {1, 2};
  batch.add_sequence(ok, 0, kv.cache.get(), kv.block_table, true);
  batch.positions[1] = 7;
  CHECK_THROWS_WITH(model.forward(batch, logits), Catch::Contains("position 7"));

  batch.clear();
  batch.add_sequence(ok, 0, kv.cache.get(), kv.block_table, true);
  std::vector<float> wrong_size(3);
  CHECK_THROWS_WITH(model.forward(batch, wrong_size), Catch::Contains("logits"));

  batch.clear();
  const int32_t outside[] = {0, 1};
  batch.add_sequence(ok, 0, kv.cache.get(), outside, true);
  CHECK_THROWS_WITH(model.forward(batch, logits), Catch::Contains("entry 1 is block 1") &&
                                                      Catch::Contains("pool of 1 blocks"));

  batch.clear();
  batch.add_sequence(ok, 0, nullptr, kv.block_table, true);
  CHECK_THROWS_WITH(model.forward(batch, logits), Catch::Contains("KV cache"));

  // Two sequences writing the same slots (a missed copy-on-write) would silently mix their KV.
  auto pool = model.create_kv_cache(4, 4);
  const int32_t shared_block[] = {2};
  batch.clear();
  batch.add_sequence(ok, 0, pool.get(), shared_block, false);
  batch.add_sequence(ok, 0, pool.get(), shared_block, true);
  CHECK_THROWS_WITH(model.forward(batch, logits), Catch::Contains("two rows") && Catch::Contains("slot 0 of block 2"));

  // A pool made for another model's shape.
  CpuBackend other;
  auto foreign = other.create_kv_cache({1, 1, 8, 4, 4});
  batch.clear();
  batch.add_sequence(ok, 0, foreign.get(), shared_block, true);
  CHECK_THROWS_WITH(model.forward(batch, logits), Catch::Contains("the model needs"));
}
