// Seeded simulation of the scheduler against a fake model: many requests with shared prefixes run to
// completion under a small KV pool (forcing preemption) with random aborts, between steps and while a
// step is in flight. The fake model's token depends only on (request, position), so a recomputed
// sequence must continue exactly as it would have without preemption.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "actors/scheduler.hpp"

using namespace sabre;

namespace {

int32_t fake_model_token(SequenceId seq, int64_t position) {
  return static_cast<int32_t>((seq * 31 + position * 7) % 500 + 1);
}

struct Expected {
  std::vector<int32_t> tokens;  // prompt + generated so far, as the fake model produced them
  int64_t prompt_len = 0;
  int64_t max_tokens = 0;
};

void simulate(uint32_t seed) {
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const SchedulerConfig config{.max_num_batched_tokens = 16, .max_num_seqs = 6, .max_waiting = 10, .max_model_len = 64};
  BlockManager bm({.block_size = 4, .num_blocks = 24, .enable_prefix_caching = true});
  Scheduler sched(config, bm);
  const std::vector<std::vector<int32_t>> prefixes = {{}, {7, 7, 7, 7, 8, 8, 8, 8}, {9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}};

  const int num_requests = 150;
  int next_id = 0;
  std::map<SequenceId, Expected> live;
  std::set<SequenceId> aborted;
  std::map<SequenceId, FinishedSequence> finished;
  int64_t overloaded = 0;
  auto random_live = [&]() -> std::optional<SequenceId> {
    if (live.empty()) return std::nullopt;
    auto it = live.begin();
    std::advance(it, std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng));
    return it->first;
  };
  auto maybe_abort = [&] {
    if (std::uniform_real_distribution<double>(0, 1)(rng) < 0.04) {
      if (auto id = random_live()) {
        REQUIRE(sched.abort(*id));
        aborted.insert(*id);
        live.erase(*id);
      }
    }
  };

  for (int step = 0; next_id < num_requests || sched.has_unfinished(); ++step) {
    REQUIRE(step < 100000);
    for (int k = std::uniform_int_distribution<int>(0, 2)(rng); k > 0 && next_id < num_requests; --k) {
      Expected e;
      e.tokens = prefixes[std::uniform_int_distribution<size_t>(0, prefixes.size() - 1)(rng)];
      const int tail = std::uniform_int_distribution<int>(1, 20)(rng);
      for (int i = 0; i < tail; ++i) e.tokens.push_back(std::uniform_int_distribution<int32_t>(1, 50)(rng));
      e.prompt_len = static_cast<int64_t>(e.tokens.size());
      e.max_tokens = std::uniform_int_distribution<int64_t>(1, 20)(rng);
      try {
        sched.add({.id = next_id, .prompt = e.tokens, .max_tokens = e.max_tokens, .stop_token_ids = {}});
        live.emplace(next_id, std::move(e));
        ++next_id;
      } catch (const SchedulerOverloaded&) {
        ++overloaded;  // the same request is offered again later, as a client retrying would
        break;
      }
    }
    maybe_abort();

    StepPlan plan = sched.schedule();
    CHECK(plan.num_batched_tokens <= config.max_num_batched_tokens);
    CHECK(static_cast<int64_t>(plan.chunks.size()) <= config.max_num_seqs);
    CHECK(sched.num_running() <= config.max_num_seqs);
    int64_t rows = 0;
    std::vector<StepResult> results;
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
      if (c.wants_logits) results.push_back({c.seq, fake_model_token(c.seq, static_cast<int64_t>(e.tokens.size()))});
    }
    CHECK(rows == plan.num_batched_tokens);
    if (plan.empty()) {
      // Nothing runnable is only possible with nothing running.
      CHECK(sched.num_running() == 0);
      continue;
    }
    maybe_abort();  // while the step is in flight
    for (const StepResult& r : results) {
      if (live.count(r.seq)) live.at(r.seq).tokens.push_back(r.token);
    }
    for (FinishedSequence& f : sched.on_step_done(results)) {
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
  CHECK(static_cast<int64_t>(finished.size() + aborted.size()) == num_requests);
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
  if (std::getenv("SABRE_SIM_STATS") != nullptr) {
    WARN("seed " << seed << ": " << finished.size() << " finished, " << aborted.size() << " aborted, "
                 << sched.num_preemptions() << " preemptions, " << bm.prefix_cache_stats().hit_blocks
                 << " prefix-cache hit blocks, " << overloaded << " overloaded rejections");
  }
}

}  // namespace

TEST_CASE("scheduler simulation: no block leaks and every request gets exactly its max_tokens", "[scheduler][sim]") {
  for (uint32_t seed : {1u, 2u, 3u, 20261125u}) simulate(seed);
}
