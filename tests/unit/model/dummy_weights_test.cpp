// --load-format dummy: random weights of a checkpoint's shapes from its config.json alone load into the
// model (every tensor the loader asks for is there, in the config's dtype) and give finite logits.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/profile_step.hpp"
#include "model/transformer.hpp"

using namespace sabre;
namespace fs = std::filesystem;

TEST_CASE("dummy weights load every architecture's tensors and run", "[weights][dummy]") {
  for (const char* name : {"llama_gqa_untied", "qwen2_bias", "qwen3_qknorm", "llama_rope_llama3"}) {
    INFO(name);
    const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / name;
    Checkpoint checkpoint = open_checkpoint(dir, LoadFormat::dummy);
    CHECK_THAT(checkpoint.weights->description(), Catch::Contains("dummy"));
    CpuBackend backend{CpuBackendOptions{1}};
    Transformer model(checkpoint.config, *checkpoint.weights, backend);
    SequenceKv kv = model.create_sequence_kv(8);
    ForwardBatch batch;
    const std::vector<int32_t> prompt = {1, 2, 3, 4};
    batch.add_sequence(prompt, 0, kv.cache.get(), kv.block_table, true);
    std::vector<float> logits(static_cast<size_t>(checkpoint.config.vocab_size));
    model.forward(batch, logits);
    for (float l : logits) REQUIRE(std::isfinite(l));
  }
}

TEST_CASE("dummy weights keep the config's dtype and need no weight files", "[weights][dummy]") {
  // A directory holding nothing but the bf16 fixture's config.json.
  const fs::path dir = fs::temp_directory_path() / "sabre_dummy_weights_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(fs::path(SABRE_TEST_FIXTURES) / "models" / "llama_gqa_bf16" / "config.json", dir / "config.json");
  const Checkpoint checkpoint = open_checkpoint(dir, LoadFormat::dummy);
  const TensorView* q = checkpoint.weights->find("model.layers.0.self_attn.q_proj.weight");
  REQUIRE(q != nullptr);
  CHECK(q->dtype == DType::bf16);
  CHECK(q->bytes.size() == static_cast<size_t>(q->shape[0] * q->shape[1]) * 2);
  CHECK(checkpoint.weights->find("model.layers.0.mlp.down_proj.weight") != nullptr);
  CHECK_THROWS_WITH(open_checkpoint(fs::path(SABRE_TEST_FIXTURES) / "gguf" / "quants.gguf", LoadFormat::dummy),
                    Catch::Contains("--load-format dummy"));
  CHECK_THROWS(open_checkpoint(dir));  // without dummy the weight files are required
  fs::remove_all(dir);
}

TEST_CASE("the profiling step runs the largest step the limits allow and leaves no sampler behind",
          "[weights][profile]") {
  const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / "qwen3_qknorm";
  Checkpoint checkpoint = open_checkpoint(dir, LoadFormat::dummy);
  CpuBackend backend{CpuBackendOptions{1}};
  // 100 rows over 7 sequences (the logits rows allow 7) with at most 3 blocks of 16 each: 48 tokens.
  Transformer model(checkpoint.config, *checkpoint.weights, backend, StepLimits{100, 7, 7, 3});
  run_profile_step(model);
  std::vector<SampledToken> out;
  const std::vector<SampleRow> row = {{0, std::numeric_limits<uint64_t>::max(), false, {}}};
  CHECK_THROWS_WITH(model.sample(row, out), Catch::Contains("no sampler"));
}
