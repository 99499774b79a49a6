// The model with KV caches of each element type against transformers' fp32 goldens: a 16-bit cache moves
// the logits by the rounding of the keys and values only; the 8-bit caches by their quantisation. The
// greedy path is compared up to the first step whose reference top-2 margin is smaller than the error a
// cache of that type can make (where a different choice is legitimate).

#include <catch2/catch.hpp>

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "model/checkpoint.hpp"
#include "model/transformer.hpp"
#include "hf_golden.hpp"

using namespace sabre;
namespace fs = std::filesystem;

using sabre::model_test::Golden;
using sabre::model_test::load_golden;

TEST_CASE("KV caches of every type against transformers' goldens", "[model][kv]") {
  CpuBackend backend(2);
  for (const char* name : {"llama_gqa_untied", "qwen2_bias", "qwen3_qknorm", "llama_rope_llama3"}) {
    const fs::path dir = fs::path(SABRE_TEST_FIXTURES) / "models" / name;
    const Golden golden = load_golden(dir);
    Checkpoint checkpoint = open_checkpoint(dir);
    Transformer model(checkpoint.config, *checkpoint.weights, backend);
    // Teacher-forced along the reference's greedy path: logits of every step, compared row by row.
    std::vector<int32_t> sequence = golden.prompt;
    sequence.insert(sequence.end(), golden.greedy.begin(), golden.greedy.end() - 1);
    // Bounds on the worst logit difference, set above what was measured on these four models (fp32 1e-5,
    // bf16 0.030, f16 0.004, int8 0.107, fp8 0.32; logits of order 10).
    for (auto [type, bound] : {std::pair{ElementType::f32, 1e-3}, std::pair{ElementType::bf16, 0.05},
                               std::pair{ElementType::f16, 0.01}, std::pair{ElementType::i8, 0.15},
                               std::pair{ElementType::fp8_e4m3, 0.4}}) {
      DYNAMIC_SECTION(name << ", KV " << element_type_name(type)) {
        const SequenceKv kv = model.create_sequence_kv(static_cast<int64_t>(sequence.size()), 16, type);
        const auto vocab = static_cast<size_t>(golden.vocab);
        std::vector<float> logits(vocab);
        double worst = 0;
        int64_t agreeing = 0;
        bool diverged = false;
        const auto first = static_cast<int64_t>(golden.prompt.size()) - 1;
        for (int64_t p = 0; p < static_cast<int64_t>(sequence.size()); ++p) {
          ForwardBatch batch;
          batch.add_sequence(std::span(sequence).subspan(static_cast<size_t>(p), 1), p, kv.cache.get(), kv.block_table,
                             true);
          model.forward(batch, logits);
          if (p < first) continue;
          const float* want = golden.row(p).data();
          for (size_t i = 0; i < vocab; ++i) worst = std::max(worst, std::abs(double(logits[i]) - want[i]));
          const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
          const int32_t reference = golden.greedy[static_cast<size_t>(p - first)];
          std::vector<float> sorted(want, want + vocab);
          std::nth_element(sorted.begin(), sorted.begin() + 1, sorted.end(), std::greater<>());
          const bool decisive = sorted[0] - sorted[1] > 2 * bound;
          if (!diverged && best == reference) ++agreeing;
          if (best != reference && decisive) diverged = true;
        }
        INFO("worst logit difference " << worst << ", greedy agrees for " << agreeing << " of "
                                       << golden.greedy.size() << " steps");
        CHECK(worst < bound);
        CHECK_FALSE(diverged);  // any disagreement is at a step whose reference margin the error can flip
      }
    }
  }
}
