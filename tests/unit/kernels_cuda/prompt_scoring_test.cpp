// [cuda] Prompt logprobs on the device: a rank's StepExecutor scores a prompt chunk from logits rows the
// GPU computed (every row of the chunk, beside another sequence's prefill and a chunk that samples),
// equal to transformers' log-softmax of the tiny fixture (golden_logits.f32) at fp32 tolerance.

#include <algorithm>
#include <cmath>

#include "actors/step_executor.hpp"
#include "model/checkpoint.hpp"
#include "tests/unit/kernels_cuda/cuda_test_support.hpp"
#include "tests/unit/model/hf_golden.hpp"

namespace sabre::cuda_test {
namespace {

// fp32 on both sides (cuBLASLt in CUBLAS_COMPUTE_32F): far below the tiny model's logit gaps.
constexpr double kTolerance = 2e-3;

double reference_logprob(std::span<const float> row, int32_t token) {
  const double top = *std::max_element(row.begin(), row.end());
  double sum = 0;
  for (float x : row) sum += std::exp(x - top);
  return row[static_cast<size_t>(token)] - top - std::log(sum);
}

ScheduledChunk prefill(SequenceId seq, std::span<const int32_t> tokens, int64_t cached, int64_t blocks, BlockId first) {
  ScheduledChunk chunk;
  chunk.seq = seq;
  chunk.tokens.assign(tokens.begin(), tokens.end());
  chunk.num_cached = cached;
  for (int64_t b = 0; b < blocks; ++b) chunk.block_table.push_back(first + static_cast<BlockId>(b));
  return chunk;
}

}  // namespace

TEST_CASE("cuda: a prompt scored in two chunks on the device equals transformers' log-probabilities",
          "[cuda][prompt_logprobs]") {
  auto gpu = device_backend(ElementType::f32);
  if (!gpu) return;
  const auto dir = fixtures_dir() / "models" / "qwen3_qknorm";
  const model_test::Golden golden = model_test::load_golden(dir);
  const std::vector<int32_t> sequence = golden.sequence();  // 41 tokens
  const Checkpoint checkpoint = open_checkpoint(dir);
  Transformer model(checkpoint.config, *checkpoint.weights, *gpu);
  StepExecutor executor(model, 16, 16);

  SamplerSpec greedy;
  greedy.key = 1;
  greedy.params.temperature = 0;
  SamplerSpec other = greedy;
  other.key = 2;
  const std::span<const int32_t> all(sequence);
  // Step 1: rows 0..19 of the prompt, scored, beside sequence 2's whole prompt, which samples.
  StepInput first;
  first.new_samplers = {greedy, other};
  ScheduledChunk head = prefill(1, all.first(20), 0, 3, 0);
  head.prompt_logprobs = 3;
  head.next_prompt_token = sequence[20];
  ScheduledChunk neighbour = prefill(2, golden.prompt, 0, 1, 8);
  neighbour.wants_logits = true;
  neighbour.sample_ids = {2};
  first.plan.chunks = {neighbour, head};
  const StepOutput out1 = executor.execute(first);
  // Step 2: the rest, scored, its last row sampled.
  StepInput second;
  ScheduledChunk tail = prefill(1, all.subspan(20), 20, 3, 0);
  tail.prompt_logprobs = 3;
  tail.wants_logits = true;
  tail.sample_ids = {1};
  second.plan.chunks = {tail};
  const StepOutput out2 = executor.execute(second);

  REQUIRE(out1.prompt_scores.size() == 1);
  REQUIRE(out2.prompt_scores.size() == 1);
  CHECK(out1.prompt_scores[0].first_scored == 1);
  CHECK(out2.prompt_scores[0].first_scored == 21);
  std::vector<SampledToken> scored = out1.prompt_scores[0].tokens;
  scored.insert(scored.end(), out2.prompt_scores[0].tokens.begin(), out2.prompt_scores[0].tokens.end());
  REQUIRE(scored.size() == sequence.size() - 1);
  for (size_t i = 1; i < sequence.size(); ++i) {
    INFO("prompt position " << i);
    const std::span<const float> row = golden.row(static_cast<int64_t>(i - 1));
    CHECK(scored[i - 1].token == sequence[i]);
    CHECK(std::abs(scored[i - 1].logprob - reference_logprob(row, sequence[i])) < kTolerance);
    REQUIRE(scored[i - 1].top_logprobs.size() == 3);
    for (const TokenLogprob& alt : scored[i - 1].top_logprobs) {
      CHECK(std::abs(alt.logprob - reference_logprob(row, alt.token)) < kTolerance);
    }
  }
  // The sampled rows are the chunks' last: transformers' greedy tokens.
  REQUIRE(out1.samples.size() == 1);
  CHECK(out1.samples[0].token.token == golden.greedy.front());
  REQUIRE(out2.samples.size() == 1);
  CHECK(out2.samples[0].token.token == golden.greedy.back());
}

}  // namespace sabre::cuda_test
