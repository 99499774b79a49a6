// The scheduler with speculative decoding (prompt lookup proposals): a decode reserves slots for its
// input and proposals within the budget, max_tokens and the pool; the rank's run (accepted proposals
// and one token of the target's) is appended in order, the rejected slots are truncated, and a stop id
// or max_tokens in the middle of a run ends the sequence there.
#include <catch2/catch.hpp>

#include <algorithm>

#include "actors/block_manager.hpp"
#include "actors/scheduler.hpp"

using namespace sabre;

namespace {

SchedulerConfig sync_config() {
  return {.max_num_batched_tokens = 32, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100,
          .max_steps_in_flight = 1};
}

}  // namespace

TEST_CASE("scheduler: speculative decodes reserve their proposals and keep the accepted run", "[scheduler][speculative]") {
  BlockManager bm({.block_size = 4, .num_blocks = 16, .enable_prefix_caching = true});
  Scheduler sched(sync_config(), bm);
  std::vector<std::vector<int32_t>> asked;
  sched.enable_speculation(3, [&](std::span<const int32_t> tokens, int32_t k) {
    asked.emplace_back(tokens.begin(), tokens.end());
    return std::vector<int32_t>{70, 80, 90, 99}.size() > static_cast<size_t>(k)
               ? std::vector<int32_t>{70, 80, 90, 99}
               : std::vector<int32_t>{70, 80, 90};
  });
  sched.add({1, {1, 2, 3, 4, 5, 6}, 9, {90}, {}});
  StepPlan prefill = sched.schedule();
  REQUIRE(prefill.chunks.size() == 1);
  CHECK(prefill.chunks[0].num_proposed == 0);
  sched.on_step_done({{1, 5}});

  StepPlan decode = sched.schedule();
  REQUIRE(decode.chunks.size() == 1);
  const ScheduledChunk& chunk = decode.chunks[0];
  CHECK(chunk.tokens == std::vector<int32_t>{5, 70, 80, 90});  // input and at most k = 3 proposals
  CHECK(chunk.num_proposed == 3);
  CHECK(chunk.num_cached == 6);
  CHECK(decode.num_batched_tokens == 4);
  CHECK(asked.back() == std::vector<int32_t>{1, 2, 3, 4, 5, 6, 5});
  CHECK(bm.num_tokens(1) == 10);
  bm.check_invariants();

  // Two accepted, then the target's 42: 70, 80, 42 are appended, the slot of 90 goes.
  StepOutcome outcome = sched.on_step_done({{1, 70}, {1, 80}, {1, 42}});
  REQUIRE(outcome.accepted.size() == 3);
  CHECK(outcome.accepted[2].token == 42);
  CHECK(outcome.finished.empty());
  CHECK(bm.num_tokens(1) == 9);  // prompt, 5, 70, 80 computed; 42's slot is taken by the next plan
  CHECK(sched.find(1)->tokens.size() == 10);
  bm.check_invariants();

  // 4 of 9 generated: room for the input and 3 proposals still (5 left), and 90 is a stop id: the run
  // 70, 80, 90, 11 ends at 90.
  decode = sched.schedule();
  CHECK(decode.chunks.at(0).num_proposed == 3);
  outcome = sched.on_step_done({{1, 70}, {1, 80}, {1, 90}, {1, 11}});
  REQUIRE(outcome.finished.size() == 1);
  CHECK(outcome.finished[0].reason == FinishReason::stop);
  CHECK(outcome.accepted.size() == 3);
  CHECK(outcome.accepted.back().token == 90);
  CHECK(bm.num_free_blocks() == 16);
  CHECK_FALSE(sched.has_unfinished());
}

TEST_CASE("scheduler: speculation stops short of max_tokens and refuses runs that do not match", "[scheduler][speculative]") {
  BlockManager bm({.block_size = 4, .num_blocks = 16, .enable_prefix_caching = false});
  Scheduler sched(sync_config(), bm);
  sched.enable_speculation(4, [](std::span<const int32_t>, int32_t k) { return std::vector<int32_t>(static_cast<size_t>(k), 7); });
  sched.add({1, {1, 2, 3}, 3, {}, {}});
  sched.schedule();
  sched.on_step_done({{1, 7}});
  // 1 generated of 3: the target's own token plus at most 1 proposal.
  StepPlan decode = sched.schedule();
  CHECK(decode.chunks.at(0).num_proposed == 1);
  CHECK_THROWS_AS(sched.on_step_done({{1, 5}, {1, 6}}), std::logic_error);  // 5 is not the proposal 7
}

TEST_CASE("scheduler: planning ahead, a speculating sequence waits for its step and the batch limit turns "
          "speculation off",
          "[scheduler][speculative]") {
  BlockManager bm({.block_size = 4, .num_blocks = 64, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100,
                   .max_steps_in_flight = 2},
                  bm);
  // Proposals while at most 2 sequences run.
  sched.enable_speculation(3, [](std::span<const int32_t>, int32_t k) {
    return std::vector<int32_t>(static_cast<size_t>(k), kDraftToken);
  }, 16, 2);
  sched.add({1, {1, 2, 3}, 30, {}, {}});
  REQUIRE(sched.schedule().chunks.size() == 1);  // prefill, in flight
  // Its first token is pending: planning ahead would decode it without proposals, so it waits.
  CHECK(sched.schedule().empty());
  sched.on_step_done({{1, 7}});
  const StepPlan speculative = sched.schedule();
  REQUIRE(speculative.chunks.size() == 1);
  CHECK(speculative.chunks[0].num_proposed == 3);
  // In flight with 3 proposals: where its next token goes depends on the run, so nothing is planned.
  CHECK(sched.schedule().empty());
  sched.on_step_done({{1, 10}, {1, 11}});  // one proposal accepted, then the target's 11
  CHECK(sched.find(1)->tokens == std::vector<int32_t>{1, 2, 3, 7, 10, 11});
  bm.check_invariants();

  // Two more admitted (after the decodes are planned: 1 still proposes in this step), then three run:
  // over the limit, no proposals, and steps are planned ahead again.
  sched.add({2, {4, 5}, 30, {}, {}});
  sched.add({3, {6, 8}, 30, {}, {}});
  const StepPlan step = sched.schedule();
  REQUIRE(step.chunks.size() == 3);  // 1's decode and both prefills
  CHECK(step.chunks[0].seq == 1);
  CHECK(step.chunks[0].num_proposed == 3);
  const StepPlan ahead = sched.schedule();  // 2 and 3 decode their pending tokens; 1 waits for its run
  REQUIRE(ahead.chunks.size() == 2);
  for (const ScheduledChunk& chunk : ahead.chunks) {
    CHECK(chunk.seq != 1);
    CHECK(chunk.input_is_pending);
    CHECK(chunk.num_proposed == 0);
  }
  sched.on_step_done({{1, 12}, {2, 20}, {3, 30}});  // 1's first proposal rejected: the target's 12
  const StepPlan next = sched.schedule();           // while `ahead` runs
  REQUIRE(next.chunks.size() == 3);
  for (const ScheduledChunk& chunk : next.chunks) {
    CHECK(chunk.num_proposed == 0);
    CHECK(chunk.input_is_pending == (chunk.seq != 1));
  }
  bm.check_invariants();
}

TEST_CASE("scheduler: a large batch proposes fewer tokens per sequence (max_rows)", "[scheduler][speculative]") {
  BlockManager bm({.block_size = 4, .num_blocks = 64, .enable_prefix_caching = false});
  Scheduler sched(sync_config(), bm);
  sched.enable_speculation(
      4, [](std::span<const int32_t>, int32_t k) { return std::vector<int32_t>(static_cast<size_t>(k), 7); }, 16);
  for (SequenceId id = 1; id <= 8; ++id) sched.add({id, {1, 2, 3}, 20, {}, {}});
  sched.schedule();  // the eight prefills
  std::vector<StepResult> first;
  for (SequenceId id = 1; id <= 8; ++id) first.push_back({id, 5});
  sched.on_step_done(first);
  const StepPlan decode = sched.schedule();
  REQUIRE(decode.chunks.size() == 8);
  for (const ScheduledChunk& chunk : decode.chunks) CHECK(chunk.num_proposed == 1);  // 16 / 8 - 1
  CHECK(decode.num_batched_tokens == 16);
}

TEST_CASE("scheduler: a draft model's placeholder proposals take the accepted tokens before their blocks are cached",
          "[scheduler][speculative]") {
  BlockManager bm({.block_size = 4, .num_blocks = 16, .enable_prefix_caching = true});
  Scheduler sched(sync_config(), bm);
  sched.enable_speculation(3, [](std::span<const int32_t>, int32_t k) {
    return std::vector<int32_t>(static_cast<size_t>(k), kDraftToken);
  });
  sched.add({1, {1, 2, 3, 4, 5, 6}, 20, {}, {}});
  REQUIRE(sched.schedule().chunks.size() == 1);
  sched.on_step_done({{1, 7}});

  StepPlan decode = sched.schedule();
  REQUIRE(decode.chunks.size() == 1);
  CHECK(decode.chunks[0].tokens == std::vector<int32_t>{7, kDraftToken, kDraftToken, kDraftToken});
  CHECK(proposals_drafted_by_rank(decode.chunks[0]));
  // The rank drafted 10, 11, 12 and the target accepted 10 and 11, then said 13.
  const StepOutcome outcome = sched.on_step_done({{1, 10}, {1, 11}, {1, 13}});
  REQUIRE(outcome.accepted.size() == 3);
  CHECK(sched.find(1)->tokens == std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 10, 11, 13});
  CHECK(bm.num_tokens(1) == 9);
  bm.check_invariants();

  // Positions 4..7 (5, 6, 7, 10) form a full computed block: a prompt starting with those tokens finds
  // it in the cache, which it would not if the placeholders had been kept as its tokens.
  sched.add({2, {1, 2, 3, 4, 5, 6, 7, 10, 50, 51}, 4, {}, {}});
  const StepPlan next = sched.schedule();
  const auto second = std::find_if(next.chunks.begin(), next.chunks.end(),
                                   [](const ScheduledChunk& c) { return c.seq == 2; });
  REQUIRE(second != next.chunks.end());
  CHECK(second->num_cached == 8);
  bm.check_invariants();
}

TEST_CASE("scheduler: a drafted run longer than its proposals is refused", "[scheduler][speculative]") {
  BlockManager bm({.block_size = 4, .num_blocks = 16});
  Scheduler sched(sync_config(), bm);
  sched.enable_speculation(2, [](std::span<const int32_t>, int32_t k) {
    return std::vector<int32_t>(static_cast<size_t>(k), kDraftToken);
  });
  sched.add({1, {1, 2, 3}, 20, {}, {}});
  sched.schedule();
  sched.on_step_done({{1, 7}});
  REQUIRE(sched.schedule().chunks.at(0).num_proposed == 2);
  CHECK_THROWS_AS(sched.on_step_done({{1, 10}, {1, 11}, {1, 12}, {1, 13}}), std::logic_error);
}
