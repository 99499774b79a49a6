// Tiny random Llama / Qwen2 / Qwen3 checkpoints converted to GGUF in llama.cpp's layout
// (tests/fixtures/gguf/make_tiny_ggufs.py, F32 tensors) must run exactly like the Hugging Face originals:
// the same greedy ids and logits within 1e-3 of transformers' goldens (tests/fixtures/models/NAME/),
// which checks the tensor naming, the undone q/k permutation, the config derived from the metadata and
// the rope scaling (linear from rope.scaling.*, Llama 3 recovered from rope_freqs.weight).

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "kernels/backend_factory.hpp"
#include "model/checkpoint.hpp"
#include "model/transformer.hpp"
#include "model/weights/gguf_file.hpp"

namespace {

namespace fs = std::filesystem;

struct Golden {
  std::vector<int32_t> prompt;
  std::vector<int32_t> greedy;
  int64_t vocab = 0;
  std::vector<float> logits;  // row r: logits after token r of prompt + greedy[:-1]
};

Golden load_golden(const fs::path& dir) {
  Golden g;
  simdjson::dom::parser parser;
  auto doc = parser.load((dir / "golden.json").string());
  for (int64_t id : doc["prompt_ids"].get_array()) g.prompt.push_back(static_cast<int32_t>(id));
  for (int64_t id : doc["greedy_ids"].get_array()) g.greedy.push_back(static_cast<int32_t>(id));
  g.vocab = doc["vocab_size"].get_int64();
  const int64_t rows = doc["logit_rows"].get_int64();
  g.logits.resize(static_cast<size_t>(rows * g.vocab));
  std::ifstream in(dir / "golden_logits.f32", std::ios::binary);
  in.read(reinterpret_cast<char*>(g.logits.data()), static_cast<std::streamsize>(g.logits.size() * 4));
  REQUIRE(in.gcount() == static_cast<std::streamsize>(g.logits.size() * 4));
  return g;
}

}  // namespace

TEST_CASE("tiny GGUF checkpoints reproduce the Hugging Face models", "[gguf][model]") {
  const auto name = GENERATE(as<std::string>{}, "llama_gqa_untied", "llama_rope_llama3", "llama_rope_linear",
                             "qwen2_bias", "qwen3_qknorm");
  INFO("model " << name);
  const fs::path hf_dir = fs::path(SABRE_TEST_FIXTURES) / "models" / name;
  const fs::path gguf = fs::path(SABRE_TEST_FIXTURES) / "gguf" / "tiny" / (name + ".gguf");
  const Golden golden = load_golden(hf_dir);

  sabre::Checkpoint ck = sabre::open_checkpoint(gguf);
  const sabre::Checkpoint hf = sabre::open_checkpoint(hf_dir);

  // The config derived from GGUF metadata agrees with config.json where the forward pass cares.
  const auto& a = ck.config;
  const auto& b = hf.config;
  CHECK(a.architecture == b.architecture);
  CHECK(a.vocab_size == b.vocab_size);
  CHECK(a.hidden_size == b.hidden_size);
  CHECK(a.intermediate_size == b.intermediate_size);
  CHECK(a.num_hidden_layers == b.num_hidden_layers);
  CHECK(a.num_attention_heads == b.num_attention_heads);
  CHECK(a.num_key_value_heads == b.num_key_value_heads);
  CHECK(a.head_dim == b.head_dim);
  CHECK(a.rms_norm_eps == Approx(b.rms_norm_eps).epsilon(1e-6));  // stored as float32 in GGUF
  CHECK(a.rope_theta == b.rope_theta);
  CHECK(a.rope_scaling.type == b.rope_scaling.type);
  CHECK(a.rope_scaling.factor == b.rope_scaling.factor);
  CHECK(a.tie_word_embeddings == b.tie_word_embeddings);
  CHECK(a.attention_bias == b.attention_bias);
  CHECK(a.qk_norm == b.qk_norm);
  CHECK(a.bos_token_id == b.bos_token_id);
  // GGUF keeps config.json's eos id (llama.cpp's converter does not read generation_config.json).
  REQUIRE(!a.eos_token_ids.empty());
  CHECK(a.eos_token_ids.front() == b.eos_token_ids.front());
  CHECK(ck.tokenizer_json.empty());  // these files carry no tokenizer

  // Every HF tensor is there under the same name and shape.
  auto names = ck.weights->names();
  auto hf_names = hf.weights->names();
  std::sort(names.begin(), names.end());
  std::sort(hf_names.begin(), hf_names.end());
  CHECK(names == hf_names);
  for (const auto& n : hf_names) {
    const auto* t = ck.weights->find(n);
    REQUIRE(t != nullptr);
    CHECK(t->shape == hf.weights->find(n)->shape);
  }

  auto backend = sabre::make_backend({.device = "cpu"});
  sabre::Transformer model(ck.config, *ck.weights, *backend);
  const auto kv = model.create_sequence_kv(64);
  sabre::ForwardBatch batch;
  std::vector<float> logits(static_cast<size_t>(golden.vocab));
  batch.add_sequence(golden.prompt, 0, kv.cache.get(), kv.block_table, true);
  model.forward(batch, logits);
  int64_t cached = static_cast<int64_t>(golden.prompt.size());
  std::vector<int32_t> generated;
  float worst = 0;
  for (size_t step = 0; step < golden.greedy.size(); ++step) {
    const float* want = golden.logits.data() + (cached - 1) * golden.vocab;
    for (int64_t v = 0; v < golden.vocab; ++v) worst = std::max(worst, std::fabs(logits[v] - want[v]));
    const auto next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    generated.push_back(next);
    if (step + 1 == golden.greedy.size()) break;
    batch.clear();
    const int32_t token[] = {next};
    batch.add_sequence(token, cached++, kv.cache.get(), kv.block_table, true);
    model.forward(batch, logits);
  }
  INFO("worst logit difference " << worst);
  CHECK(generated == golden.greedy);
  CHECK(worst < 1e-3f);
}

TEST_CASE("a Llama 3 rope_freqs tensor no recipe explains is refused", "[gguf]") {
  // Corrupt one divisor of the tiny Llama 3 file's rope_freqs.weight (its data is F32 in the file).
  const fs::path src = fs::path(SABRE_TEST_FIXTURES) / "gguf" / "tiny" / "llama_rope_llama3.gguf";
  std::ifstream in(src, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The first tensor written is rope_freqs.weight, at the start of the data section: find it through the
  // reader rather than guessing offsets.
  size_t data_at = 0;
  {
    sabre::Checkpoint ok = sabre::open_checkpoint(src);
    CHECK(ok.config.rope_scaling.type == sabre::RopeScalingType::llama3);
  }
  const auto file = sabre::GgufFile::open(src);
  const auto* freqs = file.find_tensor("rope_freqs.weight");
  REQUIRE(freqs != nullptr);
  data_at = file.data_offset() + freqs->offset;
  float value;
  std::memcpy(&value, bytes.data() + data_at + 4 * 3, 4);
  value *= 1.7f;
  std::memcpy(bytes.data() + data_at + 4 * 3, &value, 4);
  const fs::path dir = fs::path(SABRE_BINARY_DIR) / "test-gguf-tmp";
  fs::create_directories(dir);
  const fs::path bad = dir / "bad_rope_freqs.gguf";
  std::ofstream(bad, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  CHECK_THROWS_WITH(sabre::open_checkpoint(bad), Catch::Contains("rope_freqs.weight[") &&
                                                     Catch::Contains("not supported"));
}

TEST_CASE("GGUF matrices kept in Q4_0, Q5_0, Q5_1 and Q8_0, stacked parts of mixed formats split, compute "
          "exactly what their dequantised values do",
          "[gguf][model][quant]") {
  const auto name = GENERATE(as<std::string>{}, "qwen2_bias", "llama_gqa_untied");
  INFO("model " << name);
  const fs::path gguf = fs::path(SABRE_TEST_FIXTURES) / "gguf" / "tiny" / (name + "_mixed_quants.gguf");
  const Golden golden = load_golden(fs::path(SABRE_TEST_FIXTURES) / "models" / name);
  sabre::Checkpoint ck = sabre::open_checkpoint(gguf);
  // Batch-invariant: every row count goes through the row-invariant kernels, whose products over a
  // packed matrix are the fp32 kernel's over its values (the panel path too: the prompt has 30 rows).
  auto kept_backend = sabre::make_backend({.device = "cpu", .batch_invariant = true});
  auto widened_backend = sabre::make_backend({.device = "cpu", .batch_invariant = true});
  sabre::WeightOptions widened_options;
  widened_options.gguf = sabre::GgufWeights::f32;
  sabre::Transformer kept(ck.config, *ck.weights, *kept_backend);
  sabre::Transformer widened(ck.config, *ck.weights, *widened_backend, {}, widened_options);
  // Stored as the file has them: every matrix in its block format, about a fifth of fp32's bytes.
  const sabre::ModelWeights& w = kept.weights();
  REQUIRE_FALSE(w.layers[0].qkv.split());
  CHECK(w.layers[0].qkv.buffer->type() == sabre::ElementType::q4_0);
  CHECK(w.layers[0].gate_up.buffer->type() == sabre::ElementType::q5_0);
  CHECK(w.layers[1].down.buffer->type() == sabre::ElementType::q5_1);
  CHECK(w.embed_tokens->type() == sabre::ElementType::q5_1);
  // Layer 1 stacks parts of different formats: kept split, each part in its own.
  REQUIRE(w.layers[1].qkv.parts.size() == 3);
  CHECK(w.layers[1].qkv.parts[0].buffer->type() == sabre::ElementType::q5_0);
  CHECK(w.layers[1].qkv.parts[2].buffer->type() == sabre::ElementType::q8_0);
  REQUIRE(w.layers[1].gate_up.parts.size() == 2);
  CHECK(w.layers[1].gate_up.parts[0].buffer->type() == sabre::ElementType::q5_1);
  CHECK(w.layers[1].gate_up.parts[1].buffer->type() == sabre::ElementType::q4_0);
  CHECK(widened.weights().layers[1].qkv.buffer->type() == sabre::ElementType::f32);
  CHECK(kept.weights().bytes() * 4 < widened.weights().bytes());

  // A 30-token prompt and 12 greedy steps: the same logits, bit for bit, on both.
  const auto kv_kept = kept.create_sequence_kv(64);
  const auto kv_widened = widened.create_sequence_kv(64);
  std::vector<float> a(static_cast<size_t>(golden.vocab)), b(a.size());
  std::vector<int32_t> tokens;
  while (tokens.size() < 30) tokens.insert(tokens.end(), golden.prompt.begin(), golden.prompt.end());
  tokens.resize(30);
  const std::vector<int32_t> prompt = tokens;
  int64_t cached = 0;
  for (int step = 0; step < 12; ++step) {
    sabre::ForwardBatch batch_kept, batch_widened;
    const std::span<const int32_t> fresh(tokens.data() + cached, tokens.size() - static_cast<size_t>(cached));
    batch_kept.add_sequence(fresh, cached, kv_kept.cache.get(), kv_kept.block_table, true);
    batch_widened.add_sequence(fresh, cached, kv_widened.cache.get(), kv_widened.block_table, true);
    kept.forward(batch_kept, a);
    widened.forward(batch_widened, b);
    INFO("step " << step);
    REQUIRE(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
    cached = static_cast<int64_t>(tokens.size());
    tokens.push_back(static_cast<int32_t>(std::max_element(a.begin(), a.end()) - a.begin()));
  }

  // The default mode multiplies many rows through sgemm over converted tiles, each split part writing
  // its columns with the output's row stride: close to the exact run.
  auto default_backend = sabre::make_backend({.device = "cpu", .exact_kernels = true});
  sabre::Transformer fast(ck.config, *ck.weights, *default_backend);
  const auto kv_fast = fast.create_sequence_kv(64);
  sabre::ForwardBatch batch_fast, batch_exact;
  batch_fast.add_sequence(prompt, 0, kv_fast.cache.get(), kv_fast.block_table, true);
  const auto kv_exact = widened.create_sequence_kv(64);
  batch_exact.add_sequence(prompt, 0, kv_exact.cache.get(), kv_exact.block_table, true);
  fast.forward(batch_fast, a);
  widened.forward(batch_exact, b);
  float worst = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  INFO("worst difference " << worst << " of logits up to " << scale);
  CHECK(worst <= 1e-4f * std::max(1.0f, scale));
}
