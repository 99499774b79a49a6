// Quantised safetensors checkpoints as they are downloaded (GPTQ 2/4/8-bit with and without act-order,
// v1 and v2; AWQ; FP8 block-wise; compressed-tensors int4 with and without act-order, int8 and FP8), made by
// tests/fixtures/models/quantized/make_quantized_models.py from the tiny random models, against
// transformers run in float64 on the dequantised weights. Each must load with its matrices kept in a
// block type (not widened), give the reference's greedy token wherever the reference's top-2 margin is
// clear, and logits within 1e-4, token by token from the KV cache and in one prefill (which multiplies
// through the dequantised-tile path); widened to fp32 they must give the same values.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
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

constexpr float kTolerance = 1e-4f;  // observed: under 1e-5
// A reference step whose best logit leads the runner-up by less than this is not a fair greedy check
// (float64 against fp32 arithmetic); its logits are still compared.
constexpr float kClearMargin = 1e-3f;

struct Fixture {
  const char* name;
  ElementType kept_as;
  const char* matrices;  // ModelWeights::matrix_types_summary(): every linear layer kept, embeddings fp32
};

const Fixture kFixtures[] = {
    {"gptq_4bit_g32_sym", ElementType::q4_z, "f32 x1, q4_z x8"},
    {"gptq_4bit_g32_act_order", ElementType::q4_z, "f32 x2, q4_z x8"},
    {"gptq_v2_8bit_channel", ElementType::q8_z, "f32 x2, q8_z x8"},
    {"gptq_2bit_g64", ElementType::q4_z, "f32 x1, q4_z x8"},
    {"awq_4bit_g64", ElementType::q4_z, "f32 x1, q4_z x8"},
    {"fp8_block_32", ElementType::fp8_s, "f32 x2, fp8_s x8"},
    {"ct_w4a16_g32_asym", ElementType::q4_z, "f32 x1, q4_z x8"},
    {"ct_w4a16_g32_actorder", ElementType::q4_z, "f32 x2, q4_z x8"},
    {"ct_w8a8_channel", ElementType::q8_z, "f32 x2, q8_z x8"},
    {"ct_fp8_channel", ElementType::fp8_s, "f32 x1, fp8_s x8"},
};

fs::path fixture_dir(const char* name) { return fs::path(SABRE_TEST_FIXTURES) / "models" / "quantized" / name; }

int32_t argmax(std::span<const float> v) { return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin()); }

float margin(std::span<const float> v) {
  std::vector<float> sorted(v.begin(), v.end());
  std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
  return sorted[0] - sorted[1];
}

struct Comparison {
  float worst = 0;
  int clear_steps = 0;
  int mismatches = 0;
};

// Row r of `logits` against the reference's row r (r >= prompt length - 1 also checks the greedy token).
void compare_row(const Golden& golden, int64_t r, std::span<const float> logits, Comparison& c) {
  const std::span<const float> reference = golden.row(r);
  for (size_t i = 0; i < logits.size(); ++i) c.worst = std::max(c.worst, std::abs(logits[i] - reference[i]));
  const int64_t step = r - static_cast<int64_t>(golden.prompt.size()) + 1;
  if (step < 0 || margin(reference) < kClearMargin) return;
  ++c.clear_steps;
  if (argmax(logits) != golden.greedy[static_cast<size_t>(step)]) ++c.mismatches;
}

// Teacher-forced through the reference's sequence, one token per step after the prompt.
Comparison decode_token_by_token(Transformer& model, const Golden& golden) {
  const std::vector<int32_t> sequence = golden.sequence();
  const SequenceKv kv = model.create_sequence_kv(static_cast<int64_t>(sequence.size()), 16);
  std::vector<float> logits(static_cast<size_t>(golden.vocab));
  ForwardBatch batch;
  batch.add_sequence(golden.prompt, 0, kv.cache.get(), kv.block_table, true);
  model.forward(batch, logits);
  Comparison c;
  for (int64_t r = static_cast<int64_t>(golden.prompt.size()) - 1;; ++r) {
    compare_row(golden, r, logits, c);
    if (r + 1 == golden.rows) break;
    batch.clear();
    const int32_t token[] = {sequence[static_cast<size_t>(r + 1)]};
    batch.add_sequence(token, r + 1, kv.cache.get(), kv.block_table, true);
    model.forward(batch, logits);
  }
  return c;
}

Comparison one_prefill(Transformer& model, const Golden& golden) {
  const std::vector<int32_t> sequence = golden.sequence();
  const SequenceKv kv = model.create_sequence_kv(static_cast<int64_t>(sequence.size()), 16);
  std::vector<float> logits(static_cast<size_t>(golden.rows * golden.vocab));
  ForwardBatch batch;
  batch.add_sequence(sequence, 0, kv.cache.get(), kv.block_table, false);
  for (int32_t r = 0; r < golden.rows; ++r) batch.logit_rows.push_back(r);
  model.forward(batch, logits);
  Comparison c;
  for (int64_t r = 0; r < golden.rows; ++r) {
    compare_row(golden, r, std::span<const float>(logits).subspan(static_cast<size_t>(r * golden.vocab),
                                                                  static_cast<size_t>(golden.vocab)),
                c);
  }
  return c;
}

}  // namespace

TEST_CASE("quantised safetensors checkpoints load in block form and match transformers on their dequantised weights",
          "[model][quant]") {
  CpuBackend backend{CpuBackendOptions{.exact_kernels = true}};
  for (const Fixture& fixture : kFixtures) {
    DYNAMIC_SECTION(fixture.name) {
      const Golden golden = load_golden(fixture_dir(fixture.name));
      Checkpoint checkpoint = open_checkpoint(fixture_dir(fixture.name));
      Transformer model(checkpoint.config, *checkpoint.weights, backend);
      CHECK(model.weights().matrix_type() == fixture.kept_as);
      CHECK(model.weights().matrix_types_summary() == fixture.matrices);

      const Comparison steps = decode_token_by_token(model, golden);
      INFO(fixture.name << " token by token: worst logit difference " << steps.worst << ", " << steps.mismatches
                        << " of " << steps.clear_steps << " clear steps differ");
      CHECK(steps.worst < kTolerance);
      CHECK(steps.mismatches == 0);
      CHECK(steps.clear_steps >= 28);

      const Comparison prefill = one_prefill(model, golden);
      INFO(fixture.name << " one prefill: worst logit difference " << prefill.worst);
      CHECK(prefill.worst < kTolerance);
      CHECK(prefill.mismatches == 0);
    }
  }
}

TEST_CASE("a quantised checkpoint widened to fp32 (the path of a backend without its kernels) computes the same",
          "[model][quant]") {
  CpuBackend backend{CpuBackendOptions{.exact_kernels = true}};
  for (const char* name : {"gptq_4bit_g32_act_order", "awq_4bit_g64", "fp8_block_32"}) {
    DYNAMIC_SECTION(name) {
      const Golden golden = load_golden(fixture_dir(name));
      Checkpoint checkpoint = open_checkpoint(fixture_dir(name));
      WeightOptions widened;
      widened.gguf = GgufWeights::f32;
      Transformer model(checkpoint.config, *checkpoint.weights, backend, {}, widened);
      CHECK(model.weights().matrix_type() == ElementType::f32);
      const Comparison steps = decode_token_by_token(model, golden);
      INFO(name << ": worst logit difference " << steps.worst);
      CHECK(steps.worst < kTolerance);
      CHECK(steps.mismatches == 0);
    }
  }
}
