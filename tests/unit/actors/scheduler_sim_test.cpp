// Seeded simulation of the scheduler against a fake model: many requests with shared prefixes, some
// with n > 1 samples, run to completion under a small KV pool (forcing preemption) with random aborts,
// between steps and while a step is in flight. The fake model's token depends only on (sequence,
// position), so a recomputed sequence must continue exactly as it would have without preemption. A
// fake device holds the token each KV slot was computed for: it applies each plan's block copies, then
// its chunks' writes, and every chunk must read its own sequence's tokens through its block table
// (checks prefix-cache reuse, forked sharing and copy-on-write together).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
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

void simulate(uint32_t seed) {
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const SchedulerConfig config{.max_num_batched_tokens = 16, .max_num_seqs = 6, .max_waiting = 10, .max_model_len = 64, .max_steps_in_flight = 1};
  BlockManager bm({.block_size = 4, .num_blocks = 24, .enable_prefix_caching = true});
  Scheduler sched(config, bm);
  FakeDevice device(bm.num_total_blocks(), bm.block_size());

  const int num_requests = 150;
  int requests_offered = 0;
  SequenceId next_id = 0;
  std::map<SequenceId, Expected> live;
  std::set<SequenceId> aborted;
  std::map<SequenceId, FinishedSequence> finished;
  int64_t overloaded = 0;
  int64_t rejected_groups = 0;
  int64_t samples_forked = 0;
  int64_t block_copies = 0;
  std::set<SequenceId> scheduled_once;
  auto random_live = [&]() -> std::optional<SequenceId> {
    if (live.empty()) return std::nullopt;
    auto it = live.begin();
    std::advance(it, std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng));
    return it->first;
  };
  // A parent whose samples are not forked yet, if any (aborting one hands its prefill over).
  auto live_parent_before_fork = [&]() -> std::optional<SequenceId> {
    for (const auto& [id, e] : live) {
      if (!sched.find(id)->pending_samples.empty()) return id;
    }
    return std::nullopt;
  };
  int64_t hand_overs = 0;
  auto maybe_abort = [&] {
    if (std::uniform_real_distribution<double>(0, 1)(rng) < 0.04) {
      std::optional<SequenceId> id;
      if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) id = live_parent_before_fork();
      hand_overs += id ? 1 : 0;
      if (!id) id = random_live();
      if (id) {
        REQUIRE(sched.abort(*id));
        aborted.insert(*id);
        live.erase(*id);
      }
    }
  };

  for (int step = 0; requests_offered < num_requests || sched.has_unfinished(); ++step) {
    REQUIRE(step < 100000);
    for (int k = std::uniform_int_distribution<int>(0, 2)(rng); k > 0 && requests_offered < num_requests; --k) {
      const sim::SimRequest r = sim::random_sim_request(rng, false);
      Expected e;
      e.tokens = r.prompt;
      e.prompt_len = static_cast<int64_t>(e.tokens.size());
      e.max_tokens = r.max_tokens;
      std::vector<SequenceId> extra;
      for (int i = 0; i < r.num_extra_samples; ++i) extra.push_back(next_id + 1 + i);
      try {
        sched.add({.id = next_id, .prompt = e.tokens, .max_tokens = e.max_tokens, .stop_token_ids = {}, .extra_sample_ids = extra});
        for (SequenceId id : extra) live.emplace(id, e);
        live.emplace(next_id, std::move(e));
        next_id += 1 + static_cast<SequenceId>(extra.size());
        ++requests_offered;
      } catch (const SchedulerOverloaded&) {
        ++overloaded;  // the same request is offered again later, as a client retrying would
        break;
      } catch (const SchedulerRequestInvalid& invalid) {
        // Only a group can be too big for the pool here (one sample of the longest request fits).
        CHECK_THAT(invalid.what(), Catch::Contains("samples"));
        CHECK_FALSE(extra.empty());
        ++rejected_groups;
        ++requests_offered;
      }
    }
    maybe_abort();

    StepPlan plan = sched.schedule();
    CHECK(plan.num_batched_tokens <= config.max_num_batched_tokens);
    CHECK(static_cast<int64_t>(plan.chunks.size()) <= config.max_num_seqs);
    CHECK(sched.num_running() <= config.max_num_seqs);
    int64_t rows = 0;
    std::vector<StepResult> results;
    std::vector<SequenceId> result_owner;  // the chunk each result was sampled from
    for (SequenceId id : plan.first_scheduled) {
      CHECK(scheduled_once.insert(id).second);  // a request's queue time ends once
      CHECK(std::any_of(plan.chunks.begin(), plan.chunks.end(), [id](const ScheduledChunk& c) { return c.seq == id; }));
    }
    // The device runs the plan: copies first, then every chunk reads its context and writes its rows.
    for (const BlockCopy& copy : plan.block_copies) device.copy(copy);
    block_copies += static_cast<int64_t>(plan.block_copies.size());
    for (const auto& c : plan.chunks) {
      CHECK(device.holds(c.block_table, live.at(c.seq).tokens, c.num_cached));
    }
    for (const auto& c : plan.chunks) {
      for (size_t i = 0; i < c.tokens.size(); ++i) device.at(c.block_table, c.num_cached + static_cast<int64_t>(i)) = c.tokens[i];
    }
    for (const auto& c : plan.chunks) {
      // No chunk wrote into a slot another chunk of the step reads or writes.
      CHECK(device.holds(c.block_table, live.at(c.seq).tokens, c.num_cached + static_cast<int64_t>(c.tokens.size())));
    }
    for (const auto& c : plan.chunks) {
      const Expected& e = live.at(c.seq);
      rows += static_cast<int64_t>(c.tokens.size());
      // The chunk is exactly the next uncomputed slice of the sequence.
      REQUIRE(c.num_cached + static_cast<int64_t>(c.tokens.size()) <= static_cast<int64_t>(e.tokens.size()));
      const std::vector<int32_t> expected_slice(e.tokens.begin() + c.num_cached,
                                                e.tokens.begin() + c.num_cached + static_cast<int64_t>(c.tokens.size()));
      CHECK(c.tokens == expected_slice);
      CHECK(c.wants_logits == (c.num_cached + static_cast<int64_t>(c.tokens.size()) == static_cast<int64_t>(e.tokens.size())));
      CHECK(static_cast<int64_t>(c.block_table.size()) * bm.block_size() >= c.num_cached + static_cast<int64_t>(c.tokens.size()));
      if (!c.wants_logits) {
        CHECK(c.sample_ids.empty());
        continue;
      }
      REQUIRE_FALSE(c.sample_ids.empty());
      CHECK(c.sample_ids[0] == c.seq);
      for (SequenceId id : c.sample_ids) {
        // A sample not forked yet has exactly its parent's tokens: the prompt.
        REQUIRE(live.count(id) == 1);
        CHECK(live.at(id).tokens == e.tokens);
        CHECK(static_cast<bool>(sched.find(id)->fork_parent) == (id != c.seq));
        samples_forked += id != c.seq ? 1 : 0;
        results.push_back({id, fake_model_token(id, static_cast<int64_t>(live.at(id).tokens.size()))});
        result_owner.push_back(c.seq);
      }
    }
    CHECK(rows == plan.num_batched_tokens);
    if (plan.empty()) {
      // Nothing runnable is only possible with nothing running.
      CHECK(sched.num_running() == 0);
      continue;
    }
    maybe_abort();  // while the step is in flight
    StepOutcome outcome = apply_and_check_step(sched, results, result_owner, live);
    for (FinishedSequence& f : outcome.finished) {
      REQUIRE(live.count(f.seq) == 1);
      REQUIRE(finished.count(f.seq) == 0);
      const SequenceId id = f.seq;
      const Expected& e = live.at(id);
      CHECK(static_cast<int64_t>(f.generated.size()) == e.max_tokens);
      CHECK(f.generated == std::vector<int32_t>(e.tokens.begin() + e.prompt_len, e.tokens.end()));
      finished.emplace(id, std::move(f));
      live.erase(id);
    }
    bm.check_invariants();
  }

  CHECK(live.empty());
  CHECK(static_cast<SequenceId>(finished.size() + aborted.size()) == next_id);
  for (const auto& [id, f] : finished) {
    CHECK(f.reason == FinishReason::length);
  }
  CHECK(bm.num_free_blocks() == bm.num_total_blocks());
  CHECK(bm.sequence_ids().empty());
  bm.check_invariants();
  // The scenario must really exercise the paths it is about.
  CHECK(sched.num_preemptions() > 0);
  CHECK(bm.prefix_cache_stats().hit_blocks > 0);
  CHECK(overloaded > 0);
  CHECK(!aborted.empty());
  CHECK(samples_forked > 20);
  CHECK(block_copies > 0);
  CHECK(hand_overs > 0);
  if (std::getenv("SABRE_SIM_STATS") != nullptr) {
    WARN("seed " << seed << ": " << finished.size() << " finished, " << aborted.size() << " aborted, "
                 << sched.num_preemptions() << " preemptions, " << bm.prefix_cache_stats().hit_blocks
                 << " prefix-cache hit blocks, " << overloaded << " overloaded rejections, " << samples_forked
                 << " samples forked, " << block_copies << " block copies, " << rejected_groups << " groups too big, "
                 << hand_overs << " parents aborted before their fork");
  }
}

}  // namespace

TEST_CASE("scheduler simulation: no block leaks and every request gets exactly its max_tokens", "[scheduler][sim]") {
  for (uint32_t seed : {1u, 2u, 3u, 20261125u}) simulate(seed);
}
