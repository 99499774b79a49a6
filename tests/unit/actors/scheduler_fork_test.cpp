// n > 1 samples per request: the prompt is prefilled once, every sample is sampled from the chunk that
// completes it, the samples are forked sharing the prompt's blocks (copy-on-write of the partial last
// block in the next plan), and from then on they finish, get preempted and aborted independently.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "actors/scheduler.hpp"
#include "scheduler_test_support.hpp"

using namespace sabre;
using namespace sabre::test;

namespace {

// The tokens token_at() gives sequence `seq` from position `from` for `count` positions.
std::vector<int32_t> stream(SequenceId seq, int64_t from, int64_t count) {
  std::vector<int32_t> out;
  for (int64_t p = from; p < from + count; ++p) out.push_back(token_at(seq, p));
  return out;
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Runs steps until nothing is left; returns each finished sequence and records the most blocks in use.
std::map<SequenceId, FinishedSequence> run_to_end(Scheduler& sched, BlockManager& bm, int32_t* peak_used = nullptr) {
  std::map<SequenceId, FinishedSequence> done;
  for (int step = 0; sched.has_unfinished(); ++step) {
    REQUIRE(step < 1000);
    const StepPlan plan = sched.schedule();
    REQUIRE_FALSE(plan.empty());
    if (peak_used != nullptr) *peak_used = std::max(*peak_used, bm.num_used_blocks());
    for (FinishedSequence& f : complete_per_sequence(sched, plan)) done.emplace(f.seq, std::move(f));
    bm.check_invariants();
  }
  return done;
}

}  // namespace

TEST_CASE("scheduler n > 1: samples share the prompt's blocks and each decodes its own stream", "[scheduler][fork]") {
  BlockManager bm({.block_size = 4, .num_blocks = 32, .enable_prefix_caching = true});
  Scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  const std::vector<int32_t> prompt = iota_tokens(10);  // 2 full blocks and a partial one of 2 tokens
  sched.add(request(10, prompt, 5, {11, 12, 13}));
  CHECK(sched.num_waiting() == 1);  // one queue entry for the whole request
  REQUIRE(sched.find(11) != nullptr);
  CHECK(sched.find(11)->fork_parent == SequenceId{10});

  // Only the parent is prefilled; its last chunk samples for all four.
  const StepPlan p1 = sched.schedule();
  REQUIRE(p1.chunks.size() == 1);
  CHECK(p1.chunks[0].seq == 10);
  CHECK(p1.chunks[0].tokens == prompt);
  CHECK(p1.chunks[0].wants_logits);
  CHECK(p1.chunks[0].sample_ids == std::vector<SequenceId>{10, 11, 12, 13});
  CHECK(sched.running_ids() == std::vector<SequenceId>{10});
  CHECK_FALSE(bm.has_sequence(11));
  CHECK(bm.num_used_blocks() == 3);
  CHECK(complete_per_sequence(sched, p1).empty());

  // Forked: same block table, every block referenced four times, nothing new allocated.
  CHECK(sched.running_ids() == std::vector<SequenceId>{10, 11, 12, 13});
  const std::vector<BlockId> table = bm.block_table(10);
  REQUIRE(table.size() == 3);
  for (SequenceId id : {10, 11, 12, 13}) {
    INFO("sequence " << id);
    CHECK(bm.block_table(id) == table);
    CHECK(sched.find(id)->tokens == concat(prompt, {token_at(id, 10)}));
    CHECK(sched.find(id)->num_computed == 10);
    CHECK_FALSE(sched.find(id)->fork_parent.has_value());
  }
  CHECK(sched.find(10)->pending_samples.empty());
  for (BlockId b : table) CHECK(bm.ref_count(b) == 4);
  CHECK(bm.num_used_blocks() == 3);

  // The first decode of each sample writes into the shared partial block: the first three copy it
  // (the copies travel in this plan), the last one keeps the original.
  const StepPlan p2 = sched.schedule();
  REQUIRE(p2.chunks.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    const SequenceId id = 10 + static_cast<SequenceId>(i);
    INFO("sequence " << id);
    CHECK(p2.chunks[i].seq == id);
    CHECK(p2.chunks[i].is_decode);
    CHECK(p2.chunks[i].tokens == std::vector<int32_t>{token_at(id, 10)});
    CHECK(p2.chunks[i].num_cached == 10);
    CHECK(p2.chunks[i].sample_ids == std::vector<SequenceId>{id});
  }
  REQUIRE(p2.block_copies.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(p2.block_copies[i].from == table[2]);
    CHECK(p2.block_copies[i].to == p2.chunks[i].block_table[2]);
    CHECK(p2.block_copies[i].to != table[2]);
    CHECK(p2.chunks[i].block_table[0] == table[0]);
  }
  CHECK(p2.chunks[3].block_table == table);
  CHECK(bm.num_used_blocks() == 6);
  CHECK(bm.ref_count(table[0]) == 4);
  CHECK(bm.ref_count(table[2]) == 1);
  complete_per_sequence(sched, p2);

  // 10 prompt + 4 fed-back tokens = 14 tokens of KV = 4 blocks each, the first 2 shared.
  int32_t peak = 0;
  const auto done = run_to_end(sched, bm, &peak);
  CHECK(peak == 2 + 4 * 2);
  REQUIRE(done.size() == 4);
  for (SequenceId id : {10, 11, 12, 13}) {
    INFO("sequence " << id);
    CHECK(done.at(id).reason == FinishReason::length);
    CHECK(done.at(id).generated == stream(id, 10, 5));
  }
  CHECK(bm.num_used_blocks() == 0);
  bm.check_invariants();
}

TEST_CASE("scheduler n > 1: a prompt ending on a block boundary needs no copy", "[scheduler][fork]") {
  BlockManager bm({.block_size = 4, .num_blocks = 16, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, iota_tokens(8), 3, {2}));
  complete_per_sequence(sched, sched.schedule());
  const StepPlan p = sched.schedule();
  CHECK(p.block_copies.empty());
  REQUIRE(p.chunks.size() == 2);
  CHECK(p.chunks[0].block_table[2] != p.chunks[1].block_table[2]);
  CHECK(bm.num_used_blocks() == 4);
}

TEST_CASE("scheduler n > 1: the first token can finish any of the samples", "[scheduler][fork]") {
  BlockManager bm({.block_size = 4, .num_blocks = 16, .enable_prefix_caching = true});
  Scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);

  SECTION("max_tokens 1: all of them finish in the step that forked them") {
    sched.add(request(1, iota_tokens(6), 1, {2, 3}));
    auto done = complete_per_sequence(sched, sched.schedule());
    REQUIRE(done.size() == 3);
    for (const auto& f : done) {
      CHECK(f.reason == FinishReason::length);
      CHECK(f.generated == std::vector<int32_t>{token_at(f.seq, 6)});
    }
  }
  SECTION("the parent samples a stop token; its siblings go on") {
    sched.add(SequenceRequest{.id = 10, .prompt = iota_tokens(10), .max_tokens = 4,
                              .stop_token_ids = {token_at(10, 10)}, .extra_sample_ids = {11, 12}});
    auto done = complete_per_sequence(sched, sched.schedule());
    REQUIRE(done.size() == 1);
    CHECK(done[0].seq == 10);
    CHECK(done[0].reason == FinishReason::stop);
    CHECK(sched.running_ids() == std::vector<SequenceId>{11, 12});
    CHECK(bm.ref_count(bm.block_table(11)[0]) == 2);
    const auto rest = run_to_end(sched, bm);
    REQUIRE(rest.size() == 2);
    CHECK(rest.at(11).generated == stream(11, 10, 4));
    CHECK(rest.at(12).generated == stream(12, 10, 4));
  }
  CHECK_FALSE(sched.has_unfinished());
  CHECK(bm.num_used_blocks() == 0);
  bm.check_invariants();
}

TEST_CASE("scheduler n > 1: abort a sample or the parent, before and after the fork", "[scheduler][fork]") {
  BlockManager bm({.block_size = 4, .num_blocks = 32, .enable_prefix_caching = true});
  Scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  const std::vector<int32_t> prompt = iota_tokens(10);
  sched.add(request(10, prompt, 5, {11, 12}));
  std::vector<SequenceId> survivors;

  SECTION("a sample before the fork, while waiting") {
    CHECK(sched.abort(11));
    CHECK(sched.find(11) == nullptr);
    const StepPlan p = sched.schedule();
    CHECK(p.chunks.at(0).sample_ids == std::vector<SequenceId>{10, 12});
    complete_per_sequence(sched, p);
    CHECK(sched.running_ids() == std::vector<SequenceId>{10, 12});
    survivors = {10, 12};
  }
  SECTION("a sample before the fork, in the step in flight") {
    sched.schedule();
    CHECK(sched.abort(12));
    // The rank still answers for 12; that result is dropped.
    const StepOutcome outcome = sched.on_step_done({{10, 77}, {11, 77}, {12, 77}});
    REQUIRE(outcome.accepted.size() == 2);
    CHECK(outcome.accepted[0].seq == 10);
    CHECK(outcome.accepted[1].seq == 11);
    CHECK(sched.running_ids() == std::vector<SequenceId>{10, 11});
    CHECK_FALSE(bm.has_sequence(12));
    CHECK(sched.find(11)->tokens.back() == 77);
    survivors = {10, 11};
  }
  SECTION("the parent before the fork, while waiting: the first sample takes over its prefill") {
    CHECK(sched.abort(10));
    CHECK(sched.waiting_ids() == std::vector<SequenceId>{11});
    CHECK_FALSE(sched.find(11)->fork_parent.has_value());
    CHECK(sched.find(11)->pending_samples == std::vector<SequenceId>{12});
    CHECK(sched.find(12)->fork_parent == SequenceId{11});
    const StepPlan p = sched.schedule();
    REQUIRE(p.chunks.size() == 1);
    CHECK(p.chunks[0].seq == 11);
    CHECK(p.chunks[0].tokens == prompt);
    CHECK(p.chunks[0].sample_ids == std::vector<SequenceId>{11, 12});
    CHECK(p.first_scheduled == std::vector<SequenceId>{11});  // the request's queue time ends now
    complete_per_sequence(sched, p);
    survivors = {11, 12};
  }
  SECTION("the parent before the fork, in the step in flight") {
    CHECK(sched.schedule().first_scheduled == std::vector<SequenceId>{10});
    CHECK(sched.abort(10));
    CHECK(bm.num_used_blocks() == 0);  // its blocks are freed at once
    // Nothing of that step applies any more: the samples' tokens are sampled again after the new prefill.
    CHECK(sched.on_step_done({{10, 5}, {11, 6}, {12, 7}}).accepted.empty());
    CHECK(sched.running_ids().empty());
    const StepPlan q = sched.schedule();
    REQUIRE(q.chunks.size() == 1);
    CHECK(q.chunks[0].seq == 11);
    CHECK(q.chunks[0].num_cached == 0);
    CHECK(q.chunks[0].sample_ids == std::vector<SequenceId>{11, 12});
    CHECK(q.first_scheduled.empty());  // the request was scheduled before
    complete_per_sequence(sched, q);
    survivors = {11, 12};
  }
  SECTION("a sample after the fork") {
    complete_per_sequence(sched, sched.schedule());
    const BlockId first = bm.block_table(10)[0];
    CHECK(sched.abort(12));
    CHECK(bm.ref_count(first) == 2);
    CHECK(sched.running_ids() == std::vector<SequenceId>{10, 11});
    survivors = {10, 11};
  }
  SECTION("the parent after the fork") {
    complete_per_sequence(sched, sched.schedule());
    const BlockId first = bm.block_table(10)[0];
    CHECK(sched.abort(10));
    CHECK(bm.ref_count(first) == 2);
    CHECK(sched.running_ids() == std::vector<SequenceId>{11, 12});
    survivors = {11, 12};
  }

  bm.check_invariants();
  const auto done = run_to_end(sched, bm);
  REQUIRE(done.size() == survivors.size());
  for (SequenceId id : survivors) {
    INFO("sequence " << id);
    REQUIRE(done.count(id) == 1);
    CHECK(done.at(id).generated.size() == 5);
    // Each continues its own stream from the first token it got (77 for the in-flight case).
    CHECK(std::vector<int32_t>(done.at(id).generated.begin() + 1, done.at(id).generated.end()) == stream(id, 11, 4));
  }
  CHECK(bm.num_used_blocks() == 0);
}

TEST_CASE("scheduler n > 1: aborting the parent mid-prefill hands over what the prefix cache kept", "[scheduler][fork]") {
  BlockManager bm({.block_size = 4, .num_blocks = 32, .enable_prefix_caching = true});
  Scheduler sched({.max_num_batched_tokens = 6, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  const std::vector<int32_t> prompt = iota_tokens(10);
  sched.add(request(10, prompt, 3, {11, 12}));
  const StepPlan p1 = sched.schedule();
  CHECK(p1.chunks.at(0).tokens.size() == 6);
  CHECK(p1.chunks.at(0).sample_ids.empty());  // not the last chunk: nothing is sampled
  complete(sched, p1);
  CHECK(sched.abort(10));
  // The first 4 tokens' block was computed and published; the heir reuses it.
  const StepPlan p2 = sched.schedule();
  REQUIRE(p2.chunks.size() == 1);
  CHECK(p2.chunks[0].seq == 11);
  CHECK(p2.chunks[0].num_cached == 4);
  CHECK(p2.chunks[0].tokens == std::vector<int32_t>(prompt.begin() + 4, prompt.end()));
  CHECK(p2.chunks[0].sample_ids == std::vector<SequenceId>{11, 12});
  complete_per_sequence(sched, p2);
  const auto done = run_to_end(sched, bm);
  CHECK(done.at(11).generated == stream(11, 10, 3));
  CHECK(done.at(12).generated == stream(12, 10, 3));
  CHECK(bm.num_used_blocks() == 0);
}

TEST_CASE("scheduler n > 1: a sample short of a block is preempted and recomputed alone", "[scheduler][fork]") {
  // Blocks of 2 tokens, 6 of them. Request 1 (prompt 2, max_tokens 3) and request 10 with a second
  // sample 11 (prompt 3 = a full block and a partial one, max_tokens 4; 5 blocks at full length).
  BlockManager bm({.block_size = 2, .num_blocks = 6, .enable_prefix_caching = true});
  Scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 8, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, {1, 2}, 3));
  sched.add(request(10, {5, 6, 7}, 4, {11}));
  complete_per_sequence(sched, sched.schedule());
  CHECK(sched.running_ids() == std::vector<SequenceId>{1, 10, 11});
  CHECK(bm.num_used_blocks() == 3);

  // 1 takes a new block; 10 copies the shared partial block; 11 writes into the original.
  const StepPlan p2 = sched.schedule();
  REQUIRE(p2.block_copies.size() == 1);
  CHECK(p2.block_copies[0].from == bm.block_table(11)[1]);
  CHECK(p2.block_copies[0].to == chunk_of(p2, 10).block_table[1]);
  CHECK(bm.num_used_blocks() == 5);
  complete_per_sequence(sched, p2);

  // 10 takes the last free block; 11 (the latest arrival) finds none and is preempted.
  const StepPlan p3 = sched.schedule();
  CHECK(p3.preempted == std::vector<SequenceId>{11});
  CHECK(p3.chunks.size() == 2);
  CHECK_FALSE(planned(p3, 11));
  CHECK(sched.waiting_ids() == std::vector<SequenceId>{11});
  CHECK(sched.find(11)->num_preemptions == 1);
  CHECK(bm.ref_count(bm.block_table(10)[0]) == 1);  // the prompt block 11 shared
  CHECK(complete_per_sequence(sched, p3).size() == 1);  // 1 is done

  // Readmitted: the shared prompt block and its own full block come back from the prefix cache, so
  // only its last token is recomputed.
  const StepPlan p4 = sched.schedule();
  const ScheduledChunk& again = chunk_of(p4, 11);
  CHECK(again.num_cached == 4);
  CHECK(again.tokens == std::vector<int32_t>{token_at(11, 4)});
  CHECK(again.sample_ids == std::vector<SequenceId>{11});
  CHECK(again.block_table[0] == bm.block_table(10)[0]);
  std::map<SequenceId, FinishedSequence> done;
  for (FinishedSequence& f : complete_per_sequence(sched, p4)) done.emplace(f.seq, std::move(f));
  done.merge(run_to_end(sched, bm));
  CHECK(done.at(10).generated == stream(10, 3, 4));
  CHECK(done.at(11).generated == stream(11, 3, 4));
  CHECK(bm.num_used_blocks() == 0);
  CHECK(sched.num_preemptions() == 1);
}

TEST_CASE("scheduler n > 1: the samples take max_num_seqs places from admission on", "[scheduler][fork]") {
  BlockManager bm({.block_size = 4, .num_blocks = 64, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 4, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, iota_tokens(3), 2));
  sched.add(request(10, iota_tokens(3), 2, {11, 12, 13}));
  sched.add(request(20, iota_tokens(3), 2));
  const StepPlan p1 = sched.schedule();
  CHECK(p1.chunks.size() == 1);  // 1 + 4 > 4: request 10 waits, and 20 behind it (FCFS)
  CHECK(sched.waiting_ids() == std::vector<SequenceId>{10, 20});
  complete_per_sequence(sched, p1);
  CHECK(complete_per_sequence(sched, sched.schedule()).size() == 1);  // 1 finishes
  const StepPlan p3 = sched.schedule();
  CHECK(p3.chunks.size() == 1);  // 10 and its 3 samples fill all four places; 20 still waits
  CHECK(planned(p3, 10));
  complete_per_sequence(sched, p3);
  CHECK(sched.num_running() == 4);
  const auto done = run_to_end(sched, bm);
  CHECK(done.size() == 5);
}

TEST_CASE("scheduler n > 1: requests that can never run are rejected by name", "[scheduler][fork]") {
  BlockManager bm({.block_size = 4, .num_blocks = 8, .enable_prefix_caching = false});
  Scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 3, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  // 10 prompt + 10 fed-back tokens = 20 tokens = 5 blocks per sample, the first 2 shared: n = 2 needs
  // 2 + 2 * 3 = 8 blocks (fits), n = 3 needs 11.
  CHECK_NOTHROW(sched.add(request(1, iota_tokens(10), 11, {2})));
  try {
    sched.add(request(3, iota_tokens(10), 11, {4, 5}));
    FAIL("expected SchedulerRequestInvalid");
  } catch (const SchedulerRequestInvalid& e) {
    const std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("n = 3"));
    CHECK_THAT(what, Catch::Contains("11 KV blocks"));
    CHECK_THAT(what, Catch::Contains("2 full blocks shared"));
    CHECK_THAT(what, Catch::Contains("pool has 8"));
  }
  CHECK(sched.find(3) == nullptr);
  CHECK(sched.find(4) == nullptr);
  // max_tokens 1 never appends: the prompt's blocks are all a group needs.
  CHECK_NOTHROW(sched.add(request(3, iota_tokens(10), 1, {4, 5})));
  CHECK_THROWS_WITH(sched.add(request(6, iota_tokens(3), 1, {7, 8, 9})), Catch::Contains("max_num_seqs 3"));
  CHECK_THROWS_WITH(sched.add(request(6, iota_tokens(3), 1, {7, 7})), Catch::Contains("sample id 7"));
  CHECK_THROWS_WITH(sched.add(request(6, iota_tokens(3), 1, {2})), Catch::Contains("sample id 2"));
  CHECK_THROWS_WITH(sched.add(request(6, iota_tokens(3), 1, {6})), Catch::Contains("sample id 6"));
  CHECK(sched.find(6) == nullptr);
  CHECK(sched.num_waiting() == 2);
}

TEST_CASE("scheduler n > 1: the group size add() checks is what the samples really hold", "[scheduler][fork]") {
  // The same request as above (n = 2, 8 blocks by the formula) in a pool of exactly 8 blocks runs to
  // the end without a preemption, and at its peak holds all 8; a pool of 7 rejects it.
  BlockManager bm({.block_size = 4, .num_blocks = 8, .enable_prefix_caching = true});
  Scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 3, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, bm);
  sched.add(request(1, iota_tokens(10), 11, {2}));
  int32_t peak = 0;
  const auto done = run_to_end(sched, bm, &peak);
  CHECK(peak == 8);
  CHECK(sched.num_preemptions() == 0);
  CHECK(done.at(1).generated == stream(1, 10, 11));
  CHECK(done.at(2).generated == stream(2, 10, 11));

  BlockManager small({.block_size = 4, .num_blocks = 7, .enable_prefix_caching = true});
  Scheduler tight({.max_num_batched_tokens = 64, .max_num_seqs = 3, .max_waiting = 8, .max_model_len = 100, .max_steps_in_flight = 1}, small);
  CHECK_THROWS_WITH(tight.add(request(1, iota_tokens(10), 11, {2})), Catch::Contains("need 8 KV blocks"));
}
