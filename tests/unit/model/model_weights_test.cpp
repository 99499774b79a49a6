// Loading a model whose checkpoint lacks a tensor the architecture needs, or holds one of the wrong
// shape, fails with a message naming the file, the tensor and the expected shape.

#include <catch2/catch.hpp>

#include <filesystem>
#include <set>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/transformer.hpp"

using namespace sabre;

namespace {

// A checkpoint with some tensors hidden.
class HidingSource final : public WeightSource {
 public:
  HidingSource(const WeightSource& inner, std::set<std::string, std::less<>> hidden)
      : inner_(inner), hidden_(std::move(hidden)) {}
  const TensorView* find(std::string_view name) const override {
    return hidden_.count(name) ? nullptr : inner_.find(name);
  }
  std::vector<std::string> names() const override { return inner_.names(); }
  std::string description() const override { return inner_.description(); }

 private:
  const WeightSource& inner_;
  std::set<std::string, std::less<>> hidden_;
};

Checkpoint fixture(const char* name) {
  return open_checkpoint(std::filesystem::path(SABRE_TEST_FIXTURES) / "models" / name);
}

}  // namespace

TEST_CASE("a missing tensor is named", "[model]") {
  CpuBackend backend(1);
  Checkpoint qwen3 = fixture("qwen3_qknorm");
  HidingSource no_q_norm(*qwen3.weights, {"model.layers.1.self_attn.q_norm.weight"});
  CHECK_THROWS_WITH(Transformer(qwen3.config, no_q_norm, backend),
                    Catch::Contains("model.layers.1.self_attn.q_norm.weight") && Catch::Contains("missing") &&
                        Catch::Contains("[32]") && Catch::Contains("qwen3_qknorm"));

  Checkpoint qwen2 = fixture("qwen2_bias");
  HidingSource no_bias(*qwen2.weights, {"model.layers.0.self_attn.v_proj.bias"});
  CHECK_THROWS_WITH(Transformer(qwen2.config, no_bias, backend),
                    Catch::Contains("model.layers.0.self_attn.v_proj.bias"));

  // Untied embeddings need lm_head.weight.
  Checkpoint untied = fixture("llama_gqa_untied");
  HidingSource no_head(*untied.weights, {"lm_head.weight"});
  CHECK_THROWS_WITH(Transformer(untied.config, no_head, backend), Catch::Contains("lm_head.weight"));
}

TEST_CASE("a config that disagrees with the tensors names both shapes", "[model]") {
  CpuBackend backend(1);
  Checkpoint llama = fixture("llama_rope_linear");
  ModelConfig wrong = llama.config;
  wrong.intermediate_size = 96;
  CHECK_THROWS_WITH(Transformer(wrong, *llama.weights, backend),
                    Catch::Contains("model.layers.0.mlp.gate_proj.weight") && Catch::Contains("[128, 64]") &&
                        Catch::Contains("[96, 64]") && Catch::Contains("model.safetensors"));
}
