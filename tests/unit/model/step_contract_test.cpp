// The step contract (kernels/step.hpp) through the model: a step is described once and uploaded once;
// padding rows a backend asks for change nothing; steps beyond the limits the backend and the workspace
// were sized for are refused by name; a step reads and writes one KV pool; a prompt longer than one step
// is prefilled in chunks by generate().

#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/generator.hpp"
#include "model/step_builder.hpp"
#include "model/transformer.hpp"
#include "greedy_fixture.hpp"

using namespace sabre;
namespace fs = std::filesystem;

namespace {

Checkpoint fixture(const char* name) { return open_checkpoint(fs::path(SABRE_TEST_FIXTURES) / "models" / name); }

// Every row's logits of `tokens` computed as one prefill chunk and then `decodes` single-token steps.
std::vector<float> prefill_then_decode(Transformer& model, const std::vector<int32_t>& tokens, size_t decodes) {
  const auto vocab = static_cast<size_t>(model.config().vocab_size);
  const SequenceKv kv = model.create_sequence_kv(static_cast<int64_t>(tokens.size()), 4);
  const size_t prompt = tokens.size() - decodes;
  std::vector<float> all(tokens.size() * vocab);
  ForwardBatch batch;
  batch.add_sequence(std::span(tokens).first(prompt), 0, kv.cache.get(), kv.block_table, false);
  for (int32_t r = 0; r < static_cast<int32_t>(prompt); ++r) batch.logit_rows.push_back(r);
  model.forward(batch, std::span(all).first(prompt * vocab));
  for (size_t p = prompt; p < tokens.size(); ++p) {
    batch.clear();
    batch.add_sequence(std::span(tokens).subspan(p, 1), static_cast<int64_t>(p), kv.cache.get(), kv.block_table, true);
    model.forward(batch, std::span(all).subspan(p * vocab, vocab));
  }
  return all;
}

}  // namespace

TEST_CASE("padding rows a backend asks for change no bit of the real rows", "[model][step]") {
  Checkpoint checkpoint = fixture("qwen3_qknorm");
  CpuBackend plain(CpuBackendOptions{.threads = 1, .batch_invariant = true});
  CpuBackend padded(CpuBackendOptions{.threads = 1, .batch_invariant = true, .pad_rows_to = 8});
  REQUIRE(padded.padded_rows(5) == 8);
  REQUIRE(padded.padded_rows(16) == 16);
  Transformer a(checkpoint.config, *checkpoint.weights, plain);
  Transformer b(checkpoint.config, *checkpoint.weights, padded);
  std::vector<int32_t> tokens(21);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 37 + 5) % 256);
  // A 13-row prefill (padded to 16) and 8 decodes (each padded to 8 rows).
  const auto want = prefill_then_decode(a, tokens, 8);
  const auto got = prefill_then_decode(b, tokens, 8);
  CHECK(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0);
}

TEST_CASE("build_step: slots, query starts, context lengths, block tables and padding", "[model][step]") {
  CpuBackend backend(1);
  auto pool = backend.create_kv_cache({1, 1, 8, 4, 16});
  const std::vector<int32_t> table_a = {7, 2, 9}, table_b = {3, 11};
  const int32_t a[] = {5}, b[] = {1, 2, 3};
  ForwardBatch batch;
  batch.add_sequence(a, 9, pool.get(), table_a, true);   // a decode at position 9: block 9, slot 1
  batch.add_sequence(b, 0, pool.get(), table_b, true);   // a 3-token prompt in block 3
  StepDescription step;
  build_step(batch, 6, 5, step);
  CHECK(step.rows() == 6);
  CHECK(step.real_rows() == 4);
  CHECK(step.token_ids == std::vector<int32_t>{5, 1, 2, 3, 0, 0});
  CHECK(step.positions == std::vector<int32_t>{9, 0, 1, 2, 0, 0});
  CHECK(step.slot_mapping == std::vector<int32_t>{9 * 4 + 1, 3 * 4 + 0, 3 * 4 + 1, 3 * 4 + 2, -1, -1});
  CHECK(step.query_start == std::vector<int32_t>{0, 1, 4});
  CHECK(step.context_lens == std::vector<int32_t>{10, 3});
  // Width 5; only the blocks each context reaches are given, the rest is -1.
  CHECK(step.block_tables == std::vector<int32_t>{7, 2, 9, -1, -1, 3, -1, -1, -1, -1});
  CHECK(step.logit_rows == std::vector<int32_t>{0, 3});
  REQUIRE_NOTHROW(check_step(step, {6, 2, 2, 5}));
}

TEST_CASE("check_step refuses malformed steps and steps beyond the limits, by name", "[model][step]") {
  CpuBackend backend(1);
  auto pool = backend.create_kv_cache({1, 1, 8, 4, 16});
  const std::vector<int32_t> table = {0, 1};
  const int32_t tokens[] = {1, 2, 3};
  ForwardBatch batch;
  batch.add_sequence(tokens, 0, pool.get(), table, true);
  StepDescription step;
  build_step(batch, 4, 2, step);
  CHECK_NOTHROW(check_step(step, {4, 1, 1, 2}));
  CHECK_THROWS_WITH(check_step(step, {3, 1, 1, 2}), Catch::Contains("4 rows") && Catch::Contains("max_tokens of 3"));
  CHECK_THROWS_WITH(check_step(step, {4, 1, 0, 2}), Catch::Contains("max_logit_rows"));
  CHECK_THROWS_WITH(check_step(step, {4, 1, 1, 1}), Catch::Contains("max_blocks_per_sequence"));

  StepDescription bad = step;
  bad.slot_mapping[3] = 5;
  CHECK_THROWS_WITH(check_step(bad, {4, 1, 1, 2}), Catch::Contains("padding row 3"));
  bad = step;
  bad.logit_rows = {3};
  CHECK_THROWS_WITH(check_step(bad, {4, 1, 1, 2}), Catch::Contains("logits row 3 is not a real row"));
  bad = step;
  bad.query_start = {0, 0};
  CHECK_THROWS_WITH(check_step(bad, {4, 1, 1, 2}), Catch::Contains("sequence 0 has no rows"));
  bad = step;
  bad.world_size = 2;
  bad.rank = 2;
  CHECK_THROWS_WITH(check_step(bad, {4, 1, 1, 2}), Catch::Contains("rank 2 of a world of 2"));
}

TEST_CASE("the model refuses steps beyond its limits and steps over two KV pools", "[model][step]") {
  Checkpoint checkpoint = fixture("llama_rope_linear");
  CpuBackend backend(1);
  Transformer model(checkpoint.config, *checkpoint.weights, backend, {8, 2, 2, 0});
  CHECK(model.limits().max_blocks_per_sequence == checkpoint.config.max_position_embeddings);
  const SequenceKv kv = model.create_sequence_kv(16, 4);
  std::vector<int32_t> nine(9, 1);
  ForwardBatch batch;
  batch.add_sequence(nine, 0, kv.cache.get(), kv.block_table, true);
  std::vector<float> logits(static_cast<size_t>(model.config().vocab_size));
  CHECK_THROWS_WITH(model.forward(batch, logits), Catch::Contains("9 rows") && Catch::Contains("limits of 8 rows"));

  const SequenceKv other = model.create_sequence_kv(16, 4);
  batch.clear();
  batch.add_sequence(std::span(nine).first(2), 0, kv.cache.get(), kv.block_table, false);
  batch.add_sequence(std::span(nine).first(2), 0, other.cache.get(), other.block_table, false);
  CHECK_THROWS_WITH(model.forward(batch), Catch::Contains("another KV pool"));
}

TEST_CASE("generate prefills a prompt longer than one step in chunks and still reproduces HF", "[model][step]") {
  generator_test::GreedyFixture reference("llama_gqa_untied");
  Transformer small(reference.checkpoint.config, *reference.checkpoint.weights, reference.backend, {4, 1, 1, 0});
  GenerationOptions options;
  options.max_new_tokens = 32;
  options.sampling.temperature = 0;
  options.ignore_eos = true;
  REQUIRE(reference.prompt.size() > 4);
  CHECK(generate(small, reference.prompt, options).tokens == reference.greedy);
}
