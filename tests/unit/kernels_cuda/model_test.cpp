// [cuda] Whole models on the GPU: the tiny fixtures' greedy ids in fp32 against transformers' (an
// independent reference), bf16 and fp16 runs against the CPU wherever the CPU's top-2 margin is clear,
// SmolLM2 (Q4_1 GGUF, when SABRE_SMOLLM2_GGUF names it) likewise, and batch invariance: a sequence's
// logits the same alone and beside a prompt chunk and other decodes.

#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "model/checkpoint.hpp"
#include "model/generator.hpp"
#include "model/transformer.hpp"
#include "tests/unit/kernels_cuda/cuda_test_support.hpp"

namespace sabre::cuda_test {
namespace {

namespace fs = std::filesystem;

const char* const kFixtures[] = {"llama_rope_llama3", "llama_rope_linear", "llama_gqa_untied", "qwen2_bias",
                                 "qwen2_sharded", "qwen3_qknorm"};

fs::path fixture(const char* name) { return fixtures_dir() / "models" / name; }

std::vector<int32_t> ids(simdjson::dom::element doc, const char* key) {
  std::vector<int32_t> out;
  for (int64_t id : doc[key].get_array()) out.push_back(static_cast<int32_t>(id));
  return out;
}

struct Model {
  Checkpoint checkpoint;
  std::unique_ptr<Transformer> transformer;
  Model(const fs::path& path, Backend& backend) : checkpoint(open_checkpoint(path)) {
    transformer = std::make_unique<Transformer>(checkpoint.config, *checkpoint.weights, backend);
  }
  int64_t vocab() const { return checkpoint.config.vocab_size; }
};

// One sequence stepped by hand on a model: prefill, then one token at a time, logits of the last row.
struct Stepper {
  Transformer& model;
  SequenceKv kv;
  int64_t cached = 0;
  Stepper(Transformer& m, int64_t capacity) : model(m), kv(m.create_sequence_kv(capacity)) {}
  std::vector<float> step(std::span<const int32_t> tokens) {
    ForwardBatch batch;
    batch.add_sequence(tokens, cached, kv.cache.get(), kv.block_table, true);
    std::vector<float> logits(static_cast<size_t>(model.config().vocab_size));
    model.forward(batch, logits);
    cached += static_cast<int64_t>(tokens.size());
    return logits;
  }
};

int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

float margin(const std::vector<float>& v) {
  std::vector<float> top(v);
  std::partial_sort(top.begin(), top.begin() + 2, top.end(), std::greater<>());
  return top[0] - top[1];
}

// Teacher-forced along the CPU's greedy path: at each step the GPU's argmax must equal the CPU's
// wherever the CPU's best logit leads the second by more than `clear`. Returns the steps compared.
int compare_greedy_paths(Transformer& cpu_model, Transformer& gpu_model, const std::vector<int32_t>& prompt, int steps,
                         float clear) {
  Stepper cpu(cpu_model, static_cast<int64_t>(prompt.size()) + steps + 1);
  Stepper gpu(gpu_model, static_cast<int64_t>(prompt.size()) + steps + 1);
  std::vector<float> want = cpu.step(prompt), got = gpu.step(prompt);
  int compared = 0;
  for (int s = 0; s < steps; ++s) {
    INFO("step " << s << ", CPU margin " << margin(want));
    if (margin(want) > clear) {
      CHECK(argmax(got) == argmax(want));
      ++compared;
    }
    const int32_t next = argmax(want);
    want = cpu.step(std::span(&next, 1));
    got = gpu.step(std::span(&next, 1));
  }
  return compared;
}

}  // namespace

TEST_CASE("cuda: fp32 greedy generation of the tiny fixtures reproduces transformers' ids", "[cuda][model]") {
  auto gpu = device_backend(ElementType::f32);
  if (!gpu) return;
  for (const char* name : kFixtures) {
    INFO(name);
    Model model(fixture(name), *gpu);
    simdjson::dom::parser parser;
    const simdjson::dom::element golden = parser.load((fixture(name) / "golden.json").string());
    const auto prompt = ids(golden, "prompt_ids"), greedy = ids(golden, "greedy_ids");
    GenerationOptions options;
    options.max_new_tokens = static_cast<int64_t>(greedy.size());
    options.sampling.temperature = 0;
    options.ignore_eos = true;
    CHECK(generate(*model.transformer, prompt, options).tokens == greedy);
  }
}

TEST_CASE("cuda: bf16 and fp16 runs of the tiny fixtures follow the CPU where its choice is clear", "[cuda][model]") {
  for (const ElementType type : {ElementType::bf16, ElementType::f16}) {
    auto gpu = device_backend(type);
    if (!gpu) return;
    CpuBackend cpu{CpuBackendOptions{.threads = 2, .exact_kernels = true}};
    for (const char* name : kFixtures) {
      INFO(name << " in " << element_type_name(type));
      Model cpu_model(fixture(name), cpu), gpu_model(fixture(name), *gpu);
      simdjson::dom::parser parser;
      const simdjson::dom::element golden = parser.load((fixture(name) / "golden.json").string());
      const int compared =
          compare_greedy_paths(*cpu_model.transformer, *gpu_model.transformer, ids(golden, "prompt_ids"), 24, 0.05f);
      CHECK(compared > 0);
    }
  }
}

TEST_CASE("cuda: SmolLM2 (Q4_1) on the GPU follows the CPU where its choice is clear", "[cuda][model][smollm2]") {
  const char* path = std::getenv("SABRE_SMOLLM2_GGUF");
  if (path == nullptr || !fs::exists(path)) {
    WARN("SKIPPED: SABRE_SMOLLM2_GGUF names no file");
    return;
  }
  auto gpu = device_backend(ElementType::bf16);
  if (!gpu) return;
  CpuBackend cpu{CpuBackendOptions{.threads = 0, .exact_kernels = true}};
  Model cpu_model(path, cpu), gpu_model(path, *gpu);
  // "The capital of France is", as transformers tokenised it (tests/fixtures/gguf/smollm2_goldens.json).
  simdjson::dom::parser parser;
  const simdjson::dom::element goldens =
      parser.load((fixtures_dir() / "gguf" / "smollm2_goldens.json").string());
  const auto prompt = ids(goldens["greedy"], "prompt_ids");
  const int compared = compare_greedy_paths(*cpu_model.transformer, *gpu_model.transformer, prompt, 32, 0.5f);
  CHECK(compared >= 16);
}

TEST_CASE("cuda: batch-invariant mode gives a sequence the same logits whatever shares its step", "[cuda][model]") {
  for (const ElementType type : activation_types()) {
    auto gpu = device_backend(type, /*batch_invariant=*/true);
    if (!gpu) return;
    INFO(element_type_name(type));
    Model model(fixture("qwen3_qknorm"), *gpu);
    Transformer& t = *model.transformer;
    const std::vector<int32_t> prompt = {3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46, 26};
    const std::vector<int32_t> other = {2, 71, 82, 81, 82, 84, 59, 4, 52, 35, 36, 2, 87, 47, 13, 52};
    const auto vocab = static_cast<size_t>(model.vocab());

    // One pool, disjoint block tables: the step contract's one pool per step.
    std::unique_ptr<KvCache> pool = t.create_kv_cache(16, 16);
    const std::vector<int32_t> alone = {0, 1, 2, 3}, mine = {4, 5, 6, 7}, theirs = {8, 9, 10, 11},
                               third = {12, 13, 14, 15};

    // Alone: the prompt, then one decode.
    ForwardBatch batch;
    batch.add_sequence(prompt, 0, pool.get(), alone, true);
    std::vector<float> prefill_alone(vocab), decode_alone(vocab);
    t.forward(batch, prefill_alone);
    const int32_t next = argmax(prefill_alone);
    batch.clear();
    batch.add_sequence(std::span(&next, 1), static_cast<int64_t>(prompt.size()), pool.get(), alone, true);
    t.forward(batch, decode_alone);

    // Shared: the same prompt after another sequence's chunk, then its decode beside a decode and a chunk.
    batch.clear();
    batch.add_sequence(other, 0, pool.get(), theirs, true);
    batch.add_sequence(prompt, 0, pool.get(), mine, true);
    std::vector<float> shared(2 * vocab);
    t.forward(batch, shared);
    CHECK(std::equal(prefill_alone.begin(), prefill_alone.end(), shared.begin() + static_cast<std::ptrdiff_t>(vocab)));

    const int32_t their_next = 5;
    batch.clear();
    batch.add_sequence(std::span(&their_next, 1), static_cast<int64_t>(other.size()), pool.get(), theirs, true);
    batch.add_sequence(std::span(&next, 1), static_cast<int64_t>(prompt.size()), pool.get(), mine, true);
    batch.add_sequence(other, 0, pool.get(), third, true);
    std::vector<float> mixed(3 * vocab);
    t.forward(batch, mixed);
    CHECK(std::equal(decode_alone.begin(), decode_alone.end(), mixed.begin() + static_cast<std::ptrdiff_t>(vocab)));
  }
}

TEST_CASE("cuda: steps replayed from recorded graphs give the logits of steps run directly", "[cuda][model][graphs]") {
  auto with_graphs = device_backend(ElementType::f32, /*batch_invariant=*/true, /*graphs=*/true);
  auto without = device_backend(ElementType::f32, /*batch_invariant=*/true, /*graphs=*/false);
  if (!with_graphs || !without) return;
  Model a(fixture("qwen3_qknorm"), *with_graphs), b(fixture("qwen3_qknorm"), *without);
  std::unique_ptr<KvCache> pool_a = a.transformer->create_kv_cache(32, 16), pool_b = b.transformer->create_kv_cache(32, 16);
  const auto vocab = static_cast<size_t>(a.vocab());
  // Five sequences of different lengths; then decode steps of 5, 3 and 1 of them (padded to 8, 4, 1).
  std::vector<std::vector<int32_t>> prompts = {{3, 4, 5}, {6, 7, 8, 9, 10, 11, 12}, {13}, {14, 15}, {16, 17, 18, 19}};
  std::vector<int64_t> cached(prompts.size(), 0);
  const auto table = [](size_t s) { return std::vector<int32_t>{static_cast<int32_t>(4 * s), static_cast<int32_t>(4 * s + 1)}; };
  const auto step = [&](const std::vector<size_t>& which, bool prefill) {
    ForwardBatch batch_a, batch_b;
    for (size_t s : which) {
      const std::vector<int32_t> tokens = prefill ? prompts[s] : std::vector<int32_t>{static_cast<int32_t>(20 + s)};
      batch_a.add_sequence(tokens, cached[s], pool_a.get(), table(s), true);
      batch_b.add_sequence(tokens, cached[s], pool_b.get(), table(s), true);
      cached[s] += static_cast<int64_t>(tokens.size());
    }
    std::vector<float> got(which.size() * vocab), want(which.size() * vocab);
    a.transformer->forward(batch_a, got);
    b.transformer->forward(batch_b, want);
    CHECK(got == want);
  };
  step({0, 1, 2, 3, 4}, true);
  for (int i = 0; i < 3; ++i) {
    INFO("decode round " << i);
    step({0, 1, 2, 3, 4}, false);
    step({1, 3, 4}, false);
    step({2}, false);
  }
  if (auto* cuda = dynamic_cast<CudaBackend*>(with_graphs.get())) CHECK(cuda->captured_graphs() >= 3);
}

}  // namespace sabre::cuda_test
