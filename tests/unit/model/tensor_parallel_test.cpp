// Tensor parallelism on CPU ranks (one thread each, Gloo between them): how a model is cut, and that
// 2 and 4 ranks give the logits of one rank (within 1e-4) and the same greedy ids, for every architecture
// of the tiny fixtures, with kv heads split and replicated and a vocabulary padded to divide.

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/tensor_parallel.hpp"
#include "model/tensor_slice.hpp"
#include "model/transformer.hpp"

using namespace sabre;
namespace fs = std::filesystem;
using Catch::Contains;

namespace {

ModelConfig config_of(int64_t heads, int64_t kv_heads, int64_t inter, int64_t vocab) {
  ModelConfig c;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.intermediate_size = inter;
  c.vocab_size = vocab;
  c.head_dim = 8;
  c.hidden_size = heads * 8;
  return c;
}

// The logits of a prompt and then of `steps` greedy decodes (each step's argmax fed back), on `ranks`
// ranks of a model: every rank's logits, which must agree with each other exactly. With `shared_source`
// the ranks load from one opened checkpoint at once, as the server's do.
std::vector<std::vector<float>> run(const fs::path& model, LoadFormat format, int ranks,
                                    const std::vector<int32_t>& prompt, int steps, bool shared_source = false) {
  auto store = make_local_store();
  const Checkpoint shared = shared_source ? open_checkpoint(model, format) : Checkpoint{};
  std::vector<std::vector<std::vector<float>>> per_rank(static_cast<size_t>(ranks));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < ranks; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        const Checkpoint own = shared_source ? Checkpoint{} : open_checkpoint(model, format);
        const Checkpoint& checkpoint = shared_source ? shared : own;
        CpuBackend backend{CpuBackendOptions{.threads = 1, .exact_kernels = true}};
        std::unique_ptr<Communicator> communicator;
        if (ranks > 1) communicator = backend.create_communicator({rank, ranks, store, "tp", "127.0.0.1", std::chrono::seconds(60)});
        Transformer t(checkpoint.config, *checkpoint.weights, backend, StepLimits{64, 4, 4, 0}, {},
                      std::move(communicator));
        SequenceKv kv = t.create_sequence_kv(static_cast<int64_t>(prompt.size()) + steps + 1);
        std::vector<int32_t> tokens = prompt;
        int64_t cached = 0;
        for (int s = 0; s <= steps; ++s) {
          ForwardBatch batch;
          batch.add_sequence(tokens, cached, kv.cache.get(), kv.block_table, true);
          std::vector<float> logits(static_cast<size_t>(checkpoint.config.vocab_size));
          t.forward(batch, logits);
          cached += static_cast<int64_t>(tokens.size());
          tokens = {static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin())};
          per_rank[static_cast<size_t>(rank)].push_back(std::move(logits));
        }
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  for (int rank = 1; rank < ranks; ++rank) REQUIRE(per_rank[static_cast<size_t>(rank)] == per_rank[0]);
  return per_rank[0];
}

void check_same(const std::vector<std::vector<float>>& got, const std::vector<std::vector<float>>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t s = 0; s < got.size(); ++s) {
    INFO("step " << s);
    double worst = 0;
    for (size_t i = 0; i < got[s].size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(got[s][i]) - want[s][i]));
    CHECK(worst < 1e-4);
    CHECK(std::max_element(got[s].begin(), got[s].end()) - got[s].begin() ==
          std::max_element(want[s].begin(), want[s].end()) - want[s].begin());
  }
}

}  // namespace

TEST_CASE("tensor parallel plan: heads, kv heads, MLP and vocabulary per rank", "[tp]") {
  const ShardPlan a = plan_shard(config_of(32, 8, 14336, 128256), 3, 4);
  CHECK(a.q_heads == 8);
  CHECK(a.q_head_first == 24);
  CHECK(a.kv_heads == 2);
  CHECK(a.kv_head_first == 6);
  CHECK(a.inter == 3584);
  CHECK(a.vocab == 32064);
  CHECK(a.vocab_first == 96192);
  // More ranks than kv heads: each rank holds the kv head its query heads read.
  for (int rank = 0; rank < 8; ++rank) {
    const ShardPlan p = plan_shard(config_of(16, 2, 64, 100), rank, 8);
    CHECK(p.kv_heads == 1);
    CHECK(p.kv_head_first == p.q_head_first / (16 / 2));
  }
  // A vocabulary that does not divide: the last rank's rows run past it.
  const ShardPlan last = plan_shard(config_of(6, 3, 60, 250), 2, 3);
  CHECK(last.vocab == 84);
  CHECK(last.vocab_first + last.vocab == 252);
}

TEST_CASE("tensor parallel plan: shapes that do not divide are errors with the numbers", "[tp]") {
  CHECK_THROWS_WITH(plan_shard(config_of(9, 3, 1536, 49152), 0, 2),
                    Contains("--tensor-parallel-size 2") && Contains("9 attention heads"));
  CHECK_THROWS_WITH(plan_shard(config_of(12, 3, 64, 100), 0, 4), Contains("3 kv heads"));
  CHECK_THROWS_WITH(plan_shard(config_of(8, 8, 100, 100), 0, 8), Contains("intermediate_size 100"));
  CHECK_THROWS_WITH(plan_shard(config_of(8, 8, 64, 100), 2, 2), Contains("rank 2 of 2"));
}

TEST_CASE("tensor parallel: 2 and 4 CPU ranks give one rank's logits for every tiny architecture", "[tp]") {
  const std::vector<int32_t> prompt = {3, 14, 15, 92, 65, 35, 89, 79};
  for (const char* name : {"llama_gqa_untied", "llama_rope_llama3", "qwen2_bias", "qwen2_sharded", "qwen3_qknorm",
                           "llama_gqa_bf16"}) {
    const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / name;
    const auto one = run(dir, LoadFormat::automatic, 1, prompt, 6);
    for (const int ranks : {2, 4}) {
      INFO(name << " on " << ranks << " ranks");
      check_same(run(dir, LoadFormat::automatic, ranks, prompt, 6), one);
    }
  }
}

TEST_CASE("tensor parallel: quantised safetensors checkpoints on 2 ranks, loaded from one source at once", "[tp][quant]") {
  const std::vector<int32_t> prompt = {3, 14, 15, 92, 65, 35, 89, 79};
  for (const char* name : {"gptq_4bit_g32_act_order", "awq_4bit_g64", "fp8_block_32", "ct_w8a8_channel"}) {
    INFO(name);
    const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / "quantized" / name;
    check_same(run(dir, LoadFormat::automatic, 2, prompt, 6, /*shared_source=*/true),
               run(dir, LoadFormat::automatic, 1, prompt, 6));
  }
}

TEST_CASE("tensor parallel: a vocabulary padded to divide among 3 ranks", "[tp]") {
  // Random weights of a shape whose 250-token vocabulary does not divide by 3 and whose 3 kv heads do.
  const fs::path dir = fs::temp_directory_path() / "sabre_tp_vocab_test";
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 48,
    "intermediate_size": 96, "num_attention_heads": 6, "num_key_value_heads": 3, "num_hidden_layers": 2,
    "vocab_size": 250, "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
    "tie_word_embeddings": false, "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2})";
  const std::vector<int32_t> prompt = {1, 200, 249, 17, 5};
  check_same(run(dir, LoadFormat::dummy, 3, prompt, 4), run(dir, LoadFormat::dummy, 1, prompt, 4));
  fs::remove_all(dir);
}

TEST_CASE("tensor parallel: quantised matrices split on block boundaries, or the tensor is named", "[tp]") {
  // A Q8_0 matrix of 2 rows x 64 columns: two blocks of 32 per row (34 bytes each).
  const std::vector<int64_t> shape = {2, 64};
  std::vector<std::byte> whole(element_bytes(ElementType::q8_0, 128));
  for (size_t i = 0; i < whole.size(); ++i) whole[i] = static_cast<std::byte>(i);
  TensorPart part{"model.layers.0.mlp.down_proj.weight", shape, {TensorSlice::columns, 32, 32}};
  const auto right = slice_bytes(whole, shape, ElementType::q8_0, part);
  REQUIRE(right.size() == 2 * 34);
  CHECK(std::equal(right.begin(), right.begin() + 34, whole.begin() + 34));  // row 0's second block
  CHECK(std::equal(right.begin() + 34, right.end(), whole.begin() + 3 * 34));  // row 1's second block
  part.slice = {TensorSlice::columns, 16, 16};  // 4 ranks of 64 columns: half blocks
  CHECK_THROWS_WITH(slice_bytes(whole, shape, ElementType::q8_0, part),
                    Contains("model.layers.0.mlp.down_proj.weight") && Contains("block boundaries"));
  // Rows past the end (a padded vocabulary) are zero.
  part.slice = {TensorSlice::rows, 1, 2};
  const auto rows = slice_bytes(whole, shape, ElementType::q8_0, part);
  CHECK(std::equal(rows.begin(), rows.begin() + 68, whole.begin() + 68));
  CHECK(std::all_of(rows.begin() + 68, rows.end(), [](std::byte b) { return b == std::byte{0}; }));
}
