// Async scheduling (two steps in flight) against the fake model and device of the scheduler
// simulation: step N+1 is planned before step N's tokens are known, and the "rank" runs the plans in
// order, filling each pending decode input with the token it sampled last for that sequence. Requests
// share prefixes, some want n > 1 samples, some have stop tokens (so a sequence can finish in step N
// while step N+1 already holds it), aborts come at any time and the pool is small enough to force
// preemption. Every read through a block table is checked, including reads of blocks that a finished
// or aborted sequence's last planned step wrote after they were freed.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "actors/scheduler.hpp"
#include "scheduler_sim_support.hpp"

using namespace sabre;
using sabre::sim::fake_model_token;
using sabre::sim::apply_and_check_step;
using sabre::sim::Expected;
using sabre::sim::FakeDevice;

namespace {

struct Counters {
  int64_t planned_ahead = 0;   // plans made while another step was in flight
  int64_t pending_inputs = 0;  // decode inputs the rank filled in
  int64_t wasted_chunks = 0;   // chunks run for a sequence that had finished or was aborted meanwhile
  int64_t stopped = 0;         // finished by a stop token
  int64_t forked = 0;
};

void simulate_async(uint32_t seed) {
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const SchedulerConfig config{.max_num_batched_tokens = 16, .max_num_seqs = 6, .max_waiting = 10,
                               .max_model_len = 64, .max_steps_in_flight = 2};
  BlockManager bm({.block_size = 4, .num_blocks = 24, .enable_prefix_caching = true});
  Scheduler sched(config, bm);
  FakeDevice device(bm.num_total_blocks(), bm.block_size());

  const int num_requests = 150;
  int requests_offered = 0;
  SequenceId next_id = 0;
  std::map<SequenceId, Expected> live;
  std::set<SequenceId> aborted;
  std::map<SequenceId, FinishedSequence> finished;
  std::map<SequenceId, int32_t> last_sampled;  // the rank's memory of the token it sampled last
  std::deque<StepPlan> in_flight;              // the ranks' copies, in the order they run them
  Counters n;

  auto maybe_abort = [&] {
    if (live.empty() || std::uniform_real_distribution<double>(0, 1)(rng) >= 0.04) return;
    auto it = live.begin();
    std::advance(it, std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng));
    const SequenceId id = it->first;
    REQUIRE(sched.abort(id));
    aborted.insert(id);
    live.erase(id);
  };

  for (int step = 0; requests_offered < num_requests || sched.has_unfinished() || !in_flight.empty(); ++step) {
    REQUIRE(step < 100000);
    for (int k = std::uniform_int_distribution<int>(0, 2)(rng); k > 0 && requests_offered < num_requests; --k) {
      const sim::SimRequest r = sim::random_sim_request(rng, true);
      Expected e;
      e.tokens = r.prompt;
      e.prompt_len = static_cast<int64_t>(e.tokens.size());
      e.max_tokens = r.max_tokens;
      e.stop_token_ids = r.stop_token_ids;
      std::vector<SequenceId> extra;
      for (int i = 0; i < r.num_extra_samples; ++i) extra.push_back(next_id + 1 + i);
      try {
        sched.add({.id = next_id, .prompt = e.tokens, .max_tokens = e.max_tokens, .stop_token_ids = e.stop_token_ids,
                   .extra_sample_ids = extra});
        for (SequenceId id : extra) live.emplace(id, e);
        live.emplace(next_id, std::move(e));
        next_id += 1 + static_cast<SequenceId>(extra.size());
        ++requests_offered;
      } catch (const SchedulerOverloaded&) {
        break;  // offered again later
      } catch (const SchedulerRequestInvalid&) {
        CHECK_FALSE(extra.empty());
        ++requests_offered;
      }
    }
    maybe_abort();

    // Plan as far ahead as the scheduler allows.
    while (sched.can_schedule() && sched.has_unfinished()) {
      const bool ahead = !in_flight.empty();
      StepPlan plan = sched.schedule();
      if (plan.empty()) break;
      CHECK(plan.num_batched_tokens <= config.max_num_batched_tokens);
      CHECK(static_cast<int64_t>(plan.chunks.size()) <= config.max_num_seqs);
      n.planned_ahead += ahead ? 1 : 0;
      in_flight.push_back(std::move(plan));
      maybe_abort();
    }
    CHECK(sched.num_steps_in_flight() == static_cast<int64_t>(in_flight.size()));
    if (in_flight.empty()) {
      CHECK(sched.num_running() == 0);
      continue;
    }

    // The rank runs the oldest step: pending inputs filled in, copies, then reads and writes.
    StepPlan plan = std::move(in_flight.front());
    in_flight.pop_front();
    for (ScheduledChunk& c : plan.chunks) {
      if (!c.input_is_pending) continue;
      REQUIRE(c.is_decode);
      REQUIRE(c.tokens == std::vector<int32_t>{kPendingToken});
      REQUIRE(last_sampled.count(c.seq) == 1);
      c.tokens = {last_sampled.at(c.seq)};
      ++n.pending_inputs;
    }
    for (const BlockCopy& copy : plan.block_copies) device.copy(copy);
    for (const auto& c : plan.chunks) {
      if (live.count(c.seq)) CHECK(device.holds(c.block_table, live.at(c.seq).tokens, c.num_cached));
    }
    for (const auto& c : plan.chunks) {
      for (size_t i = 0; i < c.tokens.size(); ++i) device.at(c.block_table, c.num_cached + static_cast<int64_t>(i)) = c.tokens[i];
    }
    std::vector<StepResult> results;
    std::vector<SequenceId> result_owner;
    for (const auto& c : plan.chunks) {
      const int64_t end = c.num_cached + static_cast<int64_t>(c.tokens.size());
      if (!live.count(c.seq)) {
        ++n.wasted_chunks;
      } else {
        const Expected& e = live.at(c.seq);
        CHECK(device.holds(c.block_table, e.tokens, end));
        REQUIRE(end <= static_cast<int64_t>(e.tokens.size()));
        CHECK(std::vector<int32_t>(e.tokens.begin() + c.num_cached, e.tokens.begin() + end) == c.tokens);
        CHECK(c.wants_logits == (end == static_cast<int64_t>(e.tokens.size())));
      }
      for (SequenceId id : c.sample_ids) {
        // The rank samples for every id it was sent, whatever happened to the sequence meanwhile.
        const int32_t token = fake_model_token(id, end);
        results.push_back({id, token});
        result_owner.push_back(c.seq);
        last_sampled[id] = token;
        n.forked += id != c.seq ? 1 : 0;
      }
    }
    maybe_abort();
    StepOutcome outcome = apply_and_check_step(sched, results, result_owner, live);
    for (FinishedSequence& f : outcome.finished) {
      REQUIRE(live.count(f.seq) == 1);
      const Expected& e = live.at(f.seq);
      const std::vector<int32_t> generated(e.tokens.begin() + e.prompt_len, e.tokens.end());
      CHECK(f.generated == generated);
      const bool stop = std::find(e.stop_token_ids.begin(), e.stop_token_ids.end(), generated.back()) != e.stop_token_ids.end();
      CHECK(f.reason == (stop ? FinishReason::stop : FinishReason::length));
      if (!stop) CHECK(static_cast<int64_t>(generated.size()) == e.max_tokens);
      n.stopped += stop ? 1 : 0;
      finished.emplace(f.seq, std::move(f));
      live.erase(f.seq);
    }
    bm.check_invariants();
  }

  CHECK(live.empty());
  CHECK(bm.num_free_blocks() == bm.num_total_blocks());
  CHECK(bm.sequence_ids().empty());
  // The scenario must really exercise what it is about.
  CHECK(n.planned_ahead > 100);
  CHECK(n.pending_inputs > 100);
  CHECK(n.wasted_chunks > 0);
  CHECK(n.stopped > 0);
  CHECK(n.forked > 10);
  CHECK(sched.num_preemptions() > 0);
  CHECK(bm.prefix_cache_stats().hit_blocks > 0);
  if (std::getenv("SABRE_SIM_STATS") != nullptr) {
    WARN("seed " << seed << ": " << finished.size() << " finished (" << n.stopped << " by a stop token), "
                 << aborted.size() << " aborted, " << n.planned_ahead << " plans ahead, " << n.pending_inputs
                 << " pending inputs, " << n.wasted_chunks << " wasted chunks, " << n.forked << " samples forked, "
                 << sched.num_preemptions() << " preemptions, " << bm.prefix_cache_stats().hit_blocks
                 << " prefix-cache hit blocks");
  }
}

}  // namespace

TEST_CASE("scheduler async simulation: two steps in flight lose no token, block or invariant", "[scheduler][sim]") {
  for (uint32_t seed : {1u, 2u, 3u, 20261204u}) simulate_async(seed);
}

TEST_CASE("scheduler async: step N+1 decodes step N's token by placeholder, and skips what N finishes", "[scheduler]") {
  BlockManager bm({.block_size = 4, .num_blocks = 16, .enable_prefix_caching = true});
  Scheduler sched({.max_num_batched_tokens = 64, .max_num_seqs = 4, .max_waiting = 4, .max_model_len = 64,
                   .max_steps_in_flight = 2},
                  bm);
  sched.add({.id = 1, .prompt = {5, 6, 7}, .max_tokens = 3, .stop_token_ids = {}, .extra_sample_ids = {}});
  sched.add({.id = 2, .prompt = {8, 9}, .max_tokens = 1, .stop_token_ids = {}, .extra_sample_ids = {}});
  const StepPlan first = sched.schedule();  // both prefill and sample
  REQUIRE(first.chunks.size() == 2);
  REQUIRE(sched.can_schedule());
  const StepPlan second = sched.schedule();  // planned before the first step's tokens exist
  // Sequence 2 reaches max_tokens with the first step: not planned again. Sequence 1 decodes its
  // first generated token, still unknown, at position 3.
  REQUIRE(second.chunks.size() == 1);
  const ScheduledChunk& decode = second.chunks[0];
  CHECK(decode.seq == 1);
  CHECK(decode.is_decode);
  CHECK(decode.input_is_pending);
  CHECK(decode.tokens == std::vector<int32_t>{kPendingToken});
  CHECK(decode.num_cached == 3);
  CHECK_FALSE(sched.can_schedule());
  CHECK_THROWS_AS(sched.schedule(), std::logic_error);

  StepOutcome one = sched.on_step_done({{1, 40}, {2, 41}});
  CHECK(one.accepted.size() == 2);
  REQUIRE(one.finished.size() == 1);
  CHECK(one.finished[0].seq == 2);
  CHECK(sched.find(1)->tokens == std::vector<int32_t>{5, 6, 7, 40});
  CHECK(sched.find(1)->num_pending == 1);  // the second step samples its next token
  // A third step can be planned while the second runs: it decodes the second step's token.
  const StepPlan third = sched.schedule();
  REQUIRE(third.chunks.size() == 1);
  CHECK(third.chunks[0].input_is_pending);
  CHECK(third.chunks[0].num_cached == 4);
  StepOutcome two = sched.on_step_done({{1, 42}});
  CHECK(two.finished.empty());
  // The third step produces the third token: max_tokens reached.
  StepOutcome three = sched.on_step_done({{1, 43}});
  REQUIRE(three.finished.size() == 1);
  CHECK(three.finished[0].generated == std::vector<int32_t>{40, 42, 43});
  CHECK(bm.num_free_blocks() == bm.num_total_blocks());
  bm.check_invariants();
}
