// The scheduler's side of prompt logprobs: a prompt to score is prefilled in chunks that fit the step's
// row budget for them (SchedulerConfig::max_prompt_logprob_rows, shared by every such chunk of a step),
// each chunk names the prompt token after its last row, the prefix cache is not used for it, and a
// sequence that has sampled does not score again when it is recomputed.
#include <catch2/catch.hpp>

#include <vector>

#include "actors/scheduler.hpp"
#include "scheduler_test_support.hpp"

using namespace sabre;
using namespace sabre::test;

namespace {

SequenceRequest scored(SequenceId id, std::vector<int32_t> prompt, int32_t top_k, int64_t max_tokens = 4) {
  SequenceRequest r = request(id, std::move(prompt), max_tokens);
  r.prompt_logprobs = top_k;
  return r;
}

SchedulerConfig config(int64_t rows) {
  return {.max_num_batched_tokens = 100, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100,
          .max_steps_in_flight = 1, .max_prompt_logprob_rows = rows};
}

}  // namespace

TEST_CASE("scheduler: a prompt to score is chunked to the row budget, each chunk naming the next token",
          "[scheduler][prompt_logprobs]") {
  BlockManager bm({.block_size = 4, .num_blocks = 64, .enable_prefix_caching = false});
  Scheduler sched(config(8), bm);
  const std::vector<int32_t> prompt = iota_tokens(20, 100);
  sched.add(scored(1, prompt, 2));
  sched.add(request(2, iota_tokens(12, 300)));

  const StepPlan p1 = sched.schedule();
  const ScheduledChunk& a1 = chunk_of(p1, 1);
  CHECK(a1.tokens == std::vector<int32_t>(prompt.begin(), prompt.begin() + 8));
  CHECK(a1.prompt_logprobs == 2);
  CHECK(a1.next_prompt_token == prompt[8]);
  CHECK_FALSE(a1.wants_logits);
  CHECK(a1.logit_rows() == 8);
  // The other prompt is not scored and is not held to the budget.
  const ScheduledChunk& b1 = chunk_of(p1, 2);
  CHECK(b1.tokens.size() == 12);
  CHECK_FALSE(b1.scores_prompt());
  CHECK(b1.logit_rows() == 1);
  // Every row of the scoring chunk is a logits row, then the other prompt's last.
  const ForwardBatch batch = to_forward_batch(p1);
  CHECK(batch.logit_rows == std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 19});
  complete(sched, p1, 7);

  const StepPlan p2 = sched.schedule();
  const ScheduledChunk& a2 = chunk_of(p2, 1);
  CHECK(a2.num_cached == 8);
  CHECK(a2.tokens.size() == 8);
  CHECK(a2.next_prompt_token == prompt[16]);
  complete(sched, p2, 7);

  const StepPlan p3 = sched.schedule();
  const ScheduledChunk& a3 = chunk_of(p3, 1);
  CHECK(a3.num_cached == 16);
  CHECK(a3.tokens.size() == 4);
  CHECK(a3.next_prompt_token == -1);  // its last row is sampled from
  CHECK(a3.wants_logits);
  CHECK(a3.sample_ids == std::vector<SequenceId>{1});
  complete(sched, p3, 7);

  // Decodes do not score.
  const StepPlan p4 = sched.schedule();
  CHECK_FALSE(chunk_of(p4, 1).scores_prompt());
  CHECK(chunk_of(p4, 1).is_decode);
}

TEST_CASE("scheduler: prompts to score share one step's row budget, in FCFS order, and the others pass",
          "[scheduler][prompt_logprobs]") {
  BlockManager bm({.block_size = 4, .num_blocks = 64, .enable_prefix_caching = false});
  Scheduler sched(config(8), bm);
  sched.add(scored(1, iota_tokens(6, 10), 0));
  sched.add(scored(2, iota_tokens(6, 20), 0));
  sched.add(scored(3, iota_tokens(6, 30), 0));
  sched.add(request(4, iota_tokens(5, 40)));
  sched.add(scored(5, iota_tokens(3, 50), 0));
  const StepPlan p1 = sched.schedule();
  CHECK(chunk_of(p1, 1).tokens.size() == 6);
  CHECK(chunk_of(p1, 2).tokens.size() == 2);
  CHECK_FALSE(planned(p1, 3));  // waits: nothing of the budget is left
  CHECK(chunk_of(p1, 4).tokens.size() == 5);  // scores nothing: not held up by the budget
  CHECK_FALSE(planned(p1, 5));
  CHECK(sched.waiting_ids() == std::vector<SequenceId>{3, 5});
  complete(sched, p1, 5);

  const StepPlan p2 = sched.schedule();
  CHECK(chunk_of(p2, 1).is_decode);
  CHECK(chunk_of(p2, 2).tokens.size() == 4);
  CHECK(chunk_of(p2, 2).num_cached == 2);
  CHECK(chunk_of(p2, 3).tokens.size() == 4);
  CHECK_FALSE(planned(p2, 5));
  CHECK(sched.waiting_ids() == std::vector<SequenceId>{5});
}

TEST_CASE("scheduler: a prompt to score takes no prefix-cache hits, and publishes its blocks",
          "[scheduler][prompt_logprobs]") {
  BlockManager bm({.block_size = 4, .num_blocks = 64, .enable_prefix_caching = true});
  Scheduler sched(config(64), bm);
  const std::vector<int32_t> prompt = iota_tokens(13, 50);
  sched.add(request(1, prompt, 1));
  complete(sched, sched.schedule(), 9);  // finished: its 3 full blocks stay cached

  sched.add(scored(2, prompt, 1, 1));
  const StepPlan scoring = sched.schedule();
  CHECK(chunk_of(scoring, 2).num_cached == 0);
  CHECK(chunk_of(scoring, 2).tokens == prompt);
  complete(sched, scoring, 9);

  sched.add(request(3, prompt, 1));
  CHECK(chunk_of(sched.schedule(), 3).num_cached == 12);
}

TEST_CASE("scheduler: a sequence that sampled is recomputed without scoring", "[scheduler][prompt_logprobs]") {
  SchedulerSequence s;
  s.tokens = {1, 2, 3};
  s.prompt_len = 3;
  s.prompt_logprobs = 2;
  CHECK(s.scores_prompt());
  s.tokens.push_back(4);  // generated: the prompt's scores were reported
  CHECK_FALSE(s.scores_prompt());
  s.prompt_logprobs = -1;
  s.tokens.pop_back();
  CHECK_FALSE(s.scores_prompt());
}

TEST_CASE("scheduler: max_prompt_logprob_rows below 1 is refused", "[scheduler][prompt_logprobs]") {
  BlockManager bm({.block_size = 4, .num_blocks = 8, .enable_prefix_caching = false});
  CHECK_THROWS_WITH(Scheduler(config(0), bm), Catch::Contains("max_prompt_logprob_rows (0)"));
}
