// Unit tests of the scheduling policy: every decision (budget, order, chunking, admission, preemption,
// abort, rejection, prefix-cache skipping) checked on small hand-computed scenarios.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "actors/scheduler.hpp"
#include "scheduler_test_support.hpp"

using namespace sabre;
using namespace sabre::test;

TEST_CASE("scheduler: decodes come first, then prefill chunks cut to the remaining budget", "[scheduler]") {
  BlockManager bm({.block_size = 4, .num_blocks = 64, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 10, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, iota_tokens(6)));
  StepPlan p1 = sched.schedule();
  REQUIRE(p1.chunks.size() == 1);
  CHECK(p1.chunks[0].tokens.size() == 6);
  CHECK(p1.chunks[0].wants_logits);
  CHECK(p1.chunks[0].sample_ids == std::vector<SequenceId>{1});
  CHECK_FALSE(p1.chunks[0].is_decode);
  CHECK(p1.num_batched_tokens == 6);
  const StepOutcome o1 = sched.on_step_done({{1, 500}});
  REQUIRE(o1.accepted.size() == 1);
  CHECK(o1.accepted[0].seq == 1);
  CHECK(o1.accepted[0].token == 500);
  CHECK(o1.finished.empty());

  sched.add(request(2, iota_tokens(20, 100)));
  // Step 2: sequence 1 decodes (1 token), sequence 2 gets the other 9 of the budget, no logits.
  StepPlan p2 = sched.schedule();
  REQUIRE(p2.chunks.size() == 2);
  CHECK(p2.chunks[0].seq == 1);
  CHECK(p2.chunks[0].is_decode);
  CHECK(p2.chunks[0].tokens == std::vector<int32_t>{500});
  CHECK(p2.chunks[0].num_cached == 6);
  CHECK(p2.chunks[0].sample_ids == std::vector<SequenceId>{1});
  CHECK(p2.chunks[1].seq == 2);
  CHECK(p2.chunks[1].tokens == iota_tokens(9, 100));
  CHECK(p2.chunks[1].num_cached == 0);
  CHECK_FALSE(p2.chunks[1].wants_logits);
  CHECK(p2.chunks[1].sample_ids.empty());
  CHECK(p2.num_batched_tokens == 10);
  complete(sched, p2, 501);

  // Step 3: the partially prefilled sequence continues where it stopped.
  StepPlan p3 = sched.schedule();
  REQUIRE(p3.chunks.size() == 2);
  CHECK(p3.chunks[0].seq == 1);
  CHECK(p3.chunks[1].tokens == iota_tokens(9, 109));
  CHECK(p3.chunks[1].num_cached == 9);
  CHECK_FALSE(p3.chunks[1].wants_logits);
  complete(sched, p3);

  // Step 4: the last 2 prompt tokens; now logits are wanted. Budget left over stays unused.
  StepPlan p4 = sched.schedule();
  REQUIRE(p4.chunks.size() == 2);
  CHECK(p4.chunks[1].tokens == iota_tokens(2, 118));
  CHECK(p4.chunks[1].num_cached == 18);
  CHECK(p4.chunks[1].wants_logits);
  CHECK(p4.num_batched_tokens == 3);
  complete(sched, p4, 777);
  CHECK(sched.find(2)->tokens.back() == 777);
  CHECK(sched.find(2)->num_computed == 20);

  // The block tables handed out cover the rows computed.
  StepPlan p5 = sched.schedule();
  for (const auto& c : p5.chunks) {
    CHECK(static_cast<int64_t>(c.block_table.size()) * 4 >= c.num_cached + static_cast<int64_t>(c.tokens.size()));
  }
}

TEST_CASE("scheduler: a prompt larger than the budget is chunked over several steps alone", "[scheduler]") {
  BlockManager bm({.block_size = 4, .num_blocks = 64, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 8, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, iota_tokens(20)));
  sched.add(request(2, iota_tokens(3, 50)));
  // Sequence 2 must wait until sequence 1's prompt no longer takes the whole budget (FCFS).
  StepPlan p1 = sched.schedule();
  REQUIRE(p1.chunks.size() == 1);
  CHECK(p1.chunks[0].tokens.size() == 8);
  complete(sched, p1);
  StepPlan p2 = sched.schedule();
  REQUIRE(p2.chunks.size() == 1);
  CHECK(p2.chunks[0].num_cached == 8);
  complete(sched, p2);
  StepPlan p3 = sched.schedule();
  REQUIRE(p3.chunks.size() == 2);
  CHECK(p3.chunks[0].tokens.size() == 4);
  CHECK(p3.chunks[0].wants_logits);
  CHECK(p3.chunks[1].seq == 2);
  CHECK(p3.chunks[1].tokens.size() == 3);
  CHECK(p3.chunks[1].wants_logits);
}

TEST_CASE("scheduler: FCFS admission under max_num_seqs", "[scheduler]") {
  BlockManager bm({.block_size = 4, .num_blocks = 64, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 100, .max_num_seqs = 2, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, iota_tokens(3), 1));
  sched.add(request(2, iota_tokens(3, 10), 5));
  sched.add(request(3, iota_tokens(3, 20), 5));
  StepPlan p1 = sched.schedule();
  CHECK(p1.chunks.size() == 2);
  CHECK(planned(p1, 1));
  CHECK(planned(p1, 2));
  CHECK(sched.waiting_ids() == std::vector<SequenceId>{3});
  auto done = complete(sched, p1);
  REQUIRE(done.size() == 1);  // sequence 1 wanted one token
  CHECK(done[0].seq == 1);
  CHECK(done[0].reason == FinishReason::length);
  CHECK(done[0].generated == std::vector<int32_t>{1000});
  StepPlan p2 = sched.schedule();
  CHECK(planned(p2, 3));
  CHECK(chunk_of(p2, 2).is_decode);
  CHECK(sched.running_ids() == std::vector<SequenceId>{2, 3});
}

TEST_CASE("scheduler: a stop token finishes with reason stop and frees the blocks", "[scheduler]") {
  BlockManager bm({.block_size = 4, .num_blocks = 16, .enable_prefix_caching = true});
  Scheduler sched({.max_num_batched_tokens = 100, .max_num_seqs = 2, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(SequenceRequest{.id = 1, .prompt = iota_tokens(5), .max_tokens = 10, .stop_token_ids = {2, 9}, .extra_sample_ids = {}});
  complete(sched, sched.schedule(), 5);
  auto done = complete(sched, sched.schedule(), 9);
  REQUIRE(done.size() == 1);
  CHECK(done[0].reason == FinishReason::stop);
  CHECK(done[0].generated == std::vector<int32_t>{5, 9});
  CHECK(bm.num_free_blocks() == 16);
  CHECK_FALSE(sched.has_unfinished());
}

TEST_CASE("scheduler: preemption frees the latest arrival, requeues it first, and readmits it", "[scheduler]") {
  // 4 blocks of 2 tokens: three 2-token prompts take 3 blocks; their decodes need one new block each.
  BlockManager bm({.block_size = 2, .num_blocks = 4, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 100, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, {1, 2}, 3));
  sched.add(request(2, {3, 4}, 3));
  sched.add(request(3, {5, 6}, 3));
  const StepPlan p1 = sched.schedule();
  CHECK(p1.first_scheduled == std::vector<SequenceId>{1, 2, 3});
  complete(sched, p1, 10);
  sched.add(request(4, {7, 8}, 3));  // waits: never preempt to admit it
  CHECK(bm.num_free_blocks() == 1);

  StepPlan p2 = sched.schedule();
  CHECK(p2.preempted == std::vector<SequenceId>{3});
  REQUIRE(p2.chunks.size() == 2);
  CHECK(p2.chunks[0].seq == 1);
  CHECK(p2.chunks[1].seq == 2);
  CHECK(p2.first_scheduled.empty());
  CHECK(sched.waiting_ids() == std::vector<SequenceId>{3, 4});  // FCFS order kept
  const SchedulerSequence* victim = sched.find(3);
  CHECK(victim->tokens == std::vector<int32_t>{5, 6, 10});  // recompute: prompt + generated
  CHECK(victim->num_computed == 0);
  CHECK(victim->num_preemptions == 1);
  CHECK_FALSE(bm.has_sequence(3));
  CHECK(sched.num_preemptions() == 1);
  complete(sched, p2, 11);

  // Sequences 1 and 2 have room in their second block; 3 (needs 2 blocks) still does not fit.
  StepPlan p3 = sched.schedule();
  CHECK(p3.chunks.size() == 2);
  CHECK(p3.preempted.empty());
  auto done = complete(sched, p3, 12);
  CHECK(done.size() == 2);  // 3 tokens each
  CHECK(bm.num_free_blocks() == 4);

  // Readmitted before sequence 4, recomputing all three tokens with logits on the last.
  StepPlan p4 = sched.schedule();
  REQUIRE(p4.chunks.size() == 2);
  CHECK(p4.chunks[0].seq == 3);
  CHECK(p4.chunks[0].tokens == std::vector<int32_t>{5, 6, 10});
  CHECK(p4.chunks[0].num_cached == 0);
  CHECK(p4.chunks[0].wants_logits);
  CHECK(p4.chunks[1].seq == 4);
  CHECK(p4.first_scheduled == std::vector<SequenceId>{4});  // 3 only comes back
  complete(sched, p4, 20);
  auto done3 = complete(sched, sched.schedule(), 21);
  REQUIRE(done3.size() == 1);  // 3 kept the token generated before preemption: its third is this one
  CHECK(done3[0].seq == 3);
  CHECK(done3[0].generated == std::vector<int32_t>{10, 20, 21});
  auto done4 = complete(sched, sched.schedule(), 22);
  REQUIRE(done4.size() == 1);
  CHECK(done4[0].generated == std::vector<int32_t>{20, 21, 22});
  CHECK(bm.num_free_blocks() == 4);
  bm.check_invariants();
}

TEST_CASE("scheduler: a decode without a block preempts the latest arrival, even itself", "[scheduler]") {
  BlockManager bm({.block_size = 2, .num_blocks = 2, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 100, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);

  SECTION("the victim is a later sequence not yet planned") {
    sched.add(request(1, {1, 2}, 2));
    sched.add(request(2, {3, 4}, 2));
    complete(sched, sched.schedule());
    // Both blocks are full and in use: sequence 1's decode needs a third, so 2 (latest) goes.
    StepPlan p = sched.schedule();
    CHECK(p.preempted == std::vector<SequenceId>{2});
    REQUIRE(p.chunks.size() == 1);
    CHECK(p.chunks[0].seq == 1);
    CHECK(complete(sched, p).size() == 1);
    StepPlan p3 = sched.schedule();
    REQUIRE(p3.chunks.size() == 1);
    CHECK(p3.chunks[0].seq == 2);
    CHECK(p3.chunks[0].tokens.size() == 3);
  }
  SECTION("the decoding sequence is itself the latest") {
    BlockManager bm3({.block_size = 2, .num_blocks = 3, .enable_prefix_caching = false});
    Scheduler s3({.max_num_batched_tokens = 100, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm3);
    s3.add(request(1, {1, 2, 3}, 2));  // 2 blocks, one slot left for its decode
    s3.add(request(2, {4, 5}, 2));     // 1 full block: its decode needs a fourth block
    complete(s3, s3.schedule());
    StepPlan p = s3.schedule();
    CHECK(p.preempted == std::vector<SequenceId>{2});
    REQUIRE(p.chunks.size() == 1);
    CHECK(p.chunks[0].seq == 1);  // already planned, so it is not the victim
    CHECK(s3.waiting_ids() == std::vector<SequenceId>{2});
    CHECK(complete(s3, p).size() == 1);
    StepPlan p3 = s3.schedule();
    REQUIRE(p3.chunks.size() == 1);
    CHECK(p3.chunks[0].tokens == std::vector<int32_t>{4, 5, 1000});
    CHECK(bm3.num_free_blocks() == 1);
  }
}

TEST_CASE("scheduler: abort frees blocks in every state", "[scheduler]") {
  BlockManager bm({.block_size = 4, .num_blocks = 32, .enable_prefix_caching = true});
  Scheduler sched({.max_num_batched_tokens = 10, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, iota_tokens(5)));        // will be decoding
  sched.add(request(2, iota_tokens(30, 100)));  // will be mid-prefill
  complete(sched, sched.schedule());
  sched.add(request(3, iota_tokens(4, 200)));   // waiting
  StepPlan p = sched.schedule();               // in flight: 1 decodes, 2 continues
  CHECK(sched.find(2)->num_computed == 5);
  CHECK(sched.waiting_ids() == std::vector<SequenceId>{3});

  SECTION("waiting") { CHECK(sched.abort(3)); }
  SECTION("mid-prefill, in flight") { CHECK(sched.abort(2)); }
  SECTION("decoding, in flight") { CHECK(sched.abort(1)); }
  CHECK_FALSE(sched.abort(42));
  bm.check_invariants();
  // The step in flight completes; the aborted sequence's rows are ignored.
  complete(sched, p);
  sched.abort(1);
  sched.abort(2);
  sched.abort(3);
  CHECK(bm.num_free_blocks() == 32);
  CHECK_FALSE(sched.has_unfinished());
  bm.check_invariants();
}

TEST_CASE("scheduler: abort of a mid-prefill sequence between steps frees its blocks", "[scheduler]") {
  BlockManager bm({.block_size = 4, .num_blocks = 32, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 8, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, iota_tokens(30)));
  complete(sched, sched.schedule());
  CHECK(bm.num_free_blocks() == 32 - 8);  // the whole prompt's blocks are reserved at admission
  CHECK(sched.abort(1));
  CHECK(bm.num_free_blocks() == 32);
  CHECK(sched.schedule().empty());
}

TEST_CASE("scheduler: a full waiting queue rejects with an overloaded error", "[scheduler]") {
  BlockManager bm({.block_size = 4, .num_blocks = 32, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 8, .max_num_seqs = 1, .max_waiting = 2, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, iota_tokens(3)));
  sched.add(request(2, iota_tokens(3)));
  try {
    sched.add(request(3, iota_tokens(3)));
    FAIL("expected SchedulerOverloaded");
  } catch (const SchedulerOverloaded& e) {
    CHECK_THAT(e.what(), Catch::Contains("overloaded"));
    CHECK_THAT(e.what(), Catch::Contains("2"));
  }
  CHECK(sched.find(3) == nullptr);
  complete(sched, sched.schedule());  // admits 1, the queue has room again
  CHECK_NOTHROW(sched.add(request(3, iota_tokens(3))));
}

TEST_CASE("scheduler: requests longer than max_model_len or the pool are rejected by name", "[scheduler]") {
  BlockManager bm({.block_size = 4, .num_blocks = 4, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 8, .max_num_seqs = 4, .max_waiting = 2, .max_model_len = 64, .max_steps_in_flight = 1}, bm);
  try {
    sched.add(request(1, iota_tokens(60), 10));
    FAIL("expected SchedulerRequestInvalid");
  } catch (const SchedulerRequestInvalid& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("60 tokens"));
    CHECK_THAT(what, Catch::Contains("max_tokens 10"));
    CHECK_THAT(what, Catch::Contains("max_model_len 64"));
  }
  // 17 tokens of KV need 5 blocks of 4; the pool has 4.
  CHECK_THROWS_AS(sched.add(request(2, iota_tokens(10), 8)), SchedulerRequestInvalid);
  CHECK_NOTHROW(sched.add(request(2, iota_tokens(10), 7)));
  CHECK_THROWS_AS(sched.add(request(2, iota_tokens(3))), SchedulerRequestInvalid);  // id in use
  CHECK_THROWS_AS(sched.add(request(3, {})), SchedulerRequestInvalid);
  CHECK_THROWS_AS(sched.add(request(3, {1}, 0)), SchedulerRequestInvalid);
}

TEST_CASE("scheduler: prefix-cache hits skip the cached tokens", "[scheduler]") {
  BlockManager bm({.block_size = 4, .num_blocks = 32, .enable_prefix_caching = true});
  Scheduler sched({.max_num_batched_tokens = 100, .max_num_seqs = 4, .max_waiting = 4, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, iota_tokens(12), 1));
  CHECK(complete(sched, sched.schedule()).size() == 1);
  std::vector<int32_t> longer = iota_tokens(12);
  longer.insert(longer.end(), {90, 91, 92});
  sched.add(request(2, longer, 1));
  StepPlan p = sched.schedule();
  REQUIRE(p.chunks.size() == 1);
  CHECK(p.chunks[0].num_cached == 12);
  CHECK(p.chunks[0].tokens == std::vector<int32_t>{90, 91, 92});
  CHECK(p.num_batched_tokens == 3);
  CHECK(bm.prefix_cache_stats().hit_blocks == 3);
  // The same prompt again: allocate keeps the last token uncached so it yields logits.
  complete(sched, p);
  sched.add(request(3, iota_tokens(12), 1));
  StepPlan q = sched.schedule();
  CHECK(q.chunks[0].num_cached == 8);
  CHECK(q.chunks[0].tokens.size() == 4);
}

TEST_CASE("scheduler: plan and step protocol", "[scheduler]") {
  BlockManager bm({.block_size = 4, .num_blocks = 32, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 100, .max_num_seqs = 4, .max_waiting = 4, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  CHECK(sched.schedule().empty());
  CHECK_THROWS_AS(sched.on_step_done({}), std::logic_error);
  sched.add(request(1, iota_tokens(5)));
  sched.add(request(2, iota_tokens(3, 40)));
  StepPlan p = sched.schedule();
  CHECK_THROWS_AS(sched.schedule(), std::logic_error);
  CHECK_THROWS_AS(sched.on_step_done({{1, 7}}), std::logic_error);  // 2's token is missing

  SECTION("to_forward_batch") {
    BlockManager bm2({.block_size = 4, .num_blocks = 32, .enable_prefix_caching = false});
    Scheduler s2({.max_num_batched_tokens = 6, .max_num_seqs = 4, .max_waiting = 4, .max_model_len = 100, .max_steps_in_flight = 1}, bm2);
    s2.add(request(1, iota_tokens(4)));
    complete(s2, s2.schedule());
    s2.add(request(2, iota_tokens(9, 40)));
    const ForwardBatch batch = to_forward_batch(s2.schedule());
    CHECK(batch.token_ids == std::vector<int32_t>{1000, 40, 41, 42, 43, 44});
    CHECK(batch.positions == std::vector<int32_t>{4, 0, 1, 2, 3, 4});
    REQUIRE(batch.sequences.size() == 2);
    CHECK(batch.sequences[1].first_row == 1);
    CHECK(batch.sequences[1].cached_tokens == 0);
    CHECK(batch.sequences[1].kv == nullptr);
    CHECK(batch.logit_rows == std::vector<int32_t>{0});  // the prefill chunk is not the last
  }
}

TEST_CASE("scheduler: admission keeps the watermark of free blocks while something runs", "[scheduler]") {
  // 20 blocks of 4 tokens, watermark 0.2: admission must leave 4 blocks free for growth.
  BlockManager bm({.block_size = 4, .num_blocks = 20, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 100, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 80,
                   .max_steps_in_flight = 1, .watermark = 0.2},
                  bm);
  sched.add(request(1, iota_tokens(40), 4));  // 10 blocks
  complete(sched, sched.schedule());
  CHECK(bm.num_free_blocks() == 10);
  // 7 more blocks would leave 3 free, under the watermark of 4: it waits, though it would fit.
  sched.add(request(2, iota_tokens(28, 100), 4));
  const StepPlan decode_only = sched.schedule();
  REQUIRE(decode_only.chunks.size() == 1);
  CHECK(decode_only.chunks[0].seq == 1);
  CHECK(sched.waiting_ids() == std::vector<SequenceId>{2});
  complete(sched, decode_only);
  while (sched.find(1) != nullptr) complete(sched, sched.schedule());
  // Alone, it is admitted whatever the watermark says.
  const StepPlan alone = sched.schedule();
  REQUIRE(alone.chunks.size() == 1);
  CHECK(alone.chunks[0].seq == 2);

  // A request that needs more than the pool minus the watermark still runs when nothing else does.
  BlockManager big({.block_size = 4, .num_blocks = 20, .enable_prefix_caching = false});
  Scheduler lone({.max_num_batched_tokens = 100, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 80,
                  .max_steps_in_flight = 1, .watermark = 0.5},
                 big);
  lone.add(request(7, iota_tokens(70), 8));  // 18 of 20 blocks
  CHECK(lone.schedule().chunks.size() == 1);

  CHECK_THROWS_AS(Scheduler({.max_num_batched_tokens = 1, .max_num_seqs = 1, .max_waiting = 1, .max_model_len = 8,
                             .max_steps_in_flight = 1, .watermark = 1.0},
                            big),
                  std::invalid_argument);
}
