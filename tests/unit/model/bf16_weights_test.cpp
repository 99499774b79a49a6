// bf16 and f16 weights: a bf16 checkpoint stays bf16 in memory (half the bytes of fp32, no fp32 copy) and
// gives the greedy ids of a float64 reference run on its bf16-rounded weights (tests/fixtures/models/bf16,
// made by make_bf16_models.py); --dtype converts at load. Because the kernels convert 16-bit weights
// exactly, a 16-bit model computes the very bits its fp32 widening does (batch-invariant mode).

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <cstring>
#include <filesystem>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/generator.hpp"
#include "model/transformer.hpp"

using namespace sabre;
namespace fs = std::filesystem;

namespace {

const char* const kModels[] = {"llama_rope_llama3", "llama_rope_linear", "llama_gqa_untied", "qwen2_bias",
                               "qwen3_qknorm"};

fs::path bf16_dir(const char* name) { return fs::path(SABRE_TEST_FIXTURES) / "models" / "bf16" / name; }

std::vector<int32_t> ids(simdjson::dom::element doc, const char* key) {
  std::vector<int32_t> out;
  for (int64_t id : doc[key].get_array()) out.push_back(static_cast<int32_t>(id));
  return out;
}

std::vector<int32_t> greedy(Transformer& model, const std::vector<int32_t>& prompt, int64_t steps) {
  GenerationOptions options;
  options.max_new_tokens = steps;
  options.sampling.temperature = 0;
  options.ignore_eos = true;
  return generate(model, prompt, options).tokens;
}

// Logits of every position of `tokens`, token by token.
std::vector<float> decode_logits(Transformer& model, const std::vector<int32_t>& tokens) {
  const auto vocab = static_cast<size_t>(model.config().vocab_size);
  const SequenceKv kv = model.create_sequence_kv(static_cast<int64_t>(tokens.size()));
  std::vector<float> all(tokens.size() * vocab);
  for (size_t p = 0; p < tokens.size(); ++p) {
    ForwardBatch batch;
    batch.add_sequence(std::span(tokens).subspan(p, 1), static_cast<int64_t>(p), kv.cache.get(), kv.block_table, true);
    model.forward(batch, std::span(all).subspan(p * vocab, vocab));
  }
  return all;
}

}  // namespace

TEST_CASE("bf16 checkpoints stay bf16 and match a float64 reference on their weights", "[model][bf16]") {
  for (const char* name : kModels) {
    DYNAMIC_SECTION(name) {
      simdjson::dom::parser parser;
      simdjson::dom::element golden = parser.load((bf16_dir(name) / "golden.json").string());
      const auto prompt = ids(golden, "prompt_ids");
      const auto want = ids(golden, "greedy_ids");
      Checkpoint checkpoint = open_checkpoint(bf16_dir(name));
      for (bool invariant : {false, true}) {
        CpuBackend backend(CpuBackendOptions{.threads = 2, .batch_invariant = invariant});
        Transformer bf16(checkpoint.config, *checkpoint.weights, backend);
        Transformer widened(checkpoint.config, *checkpoint.weights, backend, {}, {.dtype = ModelDtype::float32});
        INFO((invariant ? "batch-invariant" : "default") << " backend");
        CHECK(bf16.weights().matrix_type() == ElementType::bf16);
        CHECK(widened.weights().matrix_type() == ElementType::f32);
        // Half the bytes: everything but the fp32 norm weights and biases is 16-bit.
        CHECK(bf16.weights().bytes() * 2 < widened.weights().bytes() + widened.weights().bytes() / 20);
        CHECK(greedy(bf16, prompt, 32) == want);
        CHECK(greedy(widened, prompt, 32) == want);
      }
    }
  }
}

TEST_CASE("16-bit weights compute the bits their fp32 widening computes", "[model][bf16]") {
  CpuBackend backend(CpuBackendOptions{.threads = 2, .batch_invariant = true});
  for (const char* name : {"llama_gqa_untied", "qwen2_bias"}) {
    DYNAMIC_SECTION(name) {
      Checkpoint checkpoint = open_checkpoint(bf16_dir(name));
      Transformer bf16(checkpoint.config, *checkpoint.weights, backend);
      Transformer widened(checkpoint.config, *checkpoint.weights, backend, {}, {.dtype = ModelDtype::float32});
      // --dtype float16: bf16 values convert to binary16 exactly except the few below its normal range.
      Transformer half(checkpoint.config, *checkpoint.weights, backend, {}, {.dtype = ModelDtype::float16});
      REQUIRE(half.weights().matrix_type() == ElementType::f16);
      std::vector<int32_t> tokens(24);
      for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 53 + 11) % 256);
      const auto a = decode_logits(bf16, tokens), b = decode_logits(widened, tokens), c = decode_logits(half, tokens);
      CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
      double worst = 0;
      for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - c[i]));
      CHECK(worst < 1e-3);
    }
  }
}

TEST_CASE("dtype bfloat16 keeps an fp32 checkpoint's matrices in bf16", "[model][bf16]") {
  const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / "qwen3_qknorm";
  Checkpoint checkpoint = open_checkpoint(dir);
  CpuBackend backend(2);
  Transformer f32(checkpoint.config, *checkpoint.weights, backend);
  Transformer bf16(checkpoint.config, *checkpoint.weights, backend, {}, {.dtype = ModelDtype::bfloat16});
  CHECK(f32.weights().matrix_type() == ElementType::f32);
  CHECK(bf16.weights().matrix_type() == ElementType::bf16);
  CHECK(bf16.weights().bytes() * 2 < f32.weights().bytes() + f32.weights().bytes() / 20);
  // Rounding the weights to bf16 moves the logits by about 2^-9 of their size, no more.
  std::vector<int32_t> tokens(12);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int32_t>((i * 31 + 3) % 256);
  const auto a = decode_logits(f32, tokens), b = decode_logits(bf16, tokens);
  double worst = 0, largest = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::abs(double(a[i]) - b[i]));
    largest = std::max(largest, std::abs(double(a[i])));
  }
  INFO("worst difference " << worst << " of logits up to " << largest);
  CHECK(worst > 0);
  CHECK(worst < 0.05 * largest);
}
