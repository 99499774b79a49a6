// Property test of the KV block manager: seeded random allocate / compute / append / fork / free /
// preempt sequences checked after every step against a simple model of what the device would hold.
// The model writes each computed token's id into a per-block "KV" array, so a prefix-cache hit can be
// checked by content (the reused block must hold exactly the prompt's tokens), not only by bookkeeping.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <vector>

#include <fmt/format.h>

#include "actors/block_manager.hpp"

using namespace sabre;

namespace {

struct FuzzModel {
  BlockManager& bm;
  int32_t bs;
  std::vector<std::vector<int32_t>> kv;          // what each block's slots hold, -1 = never written
  std::map<SequenceId, std::vector<int32_t>> tokens;  // expected tokens of each live sequence
  int64_t expected_hit_blocks = 0;

  FuzzModel(BlockManager& m) : bm(m), bs(m.block_size()),
      kv(static_cast<size_t>(m.num_total_blocks()), std::vector<int32_t>(static_cast<size_t>(m.block_size()), -1)) {}

  // Runs the "device" over tokens [computed, upto) of a sequence: writes their ids into the KV slots.
  void compute(SequenceId seq, int64_t upto) {
    const auto& table = bm.block_table(seq);
    const auto& t = tokens.at(seq);
    for (int64_t pos = bm.num_computed_tokens(seq); pos < upto; ++pos) {
      const BlockId b = table[static_cast<size_t>(pos / bs)];
      // Never write into a block another sequence also reads.
      REQUIRE(bm.ref_count(b) == 1);
      kv[static_cast<size_t>(b)][static_cast<size_t>(pos % bs)] = t[static_cast<size_t>(pos)];
    }
    bm.mark_computed(seq, upto);
  }

  void allocate(SequenceId seq, const std::vector<int32_t>& prompt) {
    const int64_t cached = bm.allocate(seq, prompt);
    tokens[seq] = prompt;
    REQUIRE(cached % bs == 0);
    REQUIRE(cached < static_cast<int64_t>(prompt.size()));
    REQUIRE(bm.num_computed_tokens(seq) == cached);
    expected_hit_blocks += cached / bs;
    const auto& table = bm.block_table(seq);
    for (int64_t i = 0; i < cached / bs; ++i) {
      const BlockId b = table[static_cast<size_t>(i)];
      const auto want = std::vector<int32_t>(prompt.begin() + i * bs, prompt.begin() + (i + 1) * bs);
      INFO(fmt::format("sequence {} reused block {} at position {}", seq, b, i));
      REQUIRE(kv[static_cast<size_t>(b)] == want);
      const auto stored = bm.cached_block_tokens(b);
      REQUIRE(std::vector<int32_t>(stored.begin(), stored.end()) == want);
    }
  }

  // Everything the public API shows, recomputed from the block tables.
  void check() {
    bm.check_invariants();
    std::vector<int32_t> holders(static_cast<size_t>(bm.num_total_blocks()), 0);
    REQUIRE(bm.sequence_ids().size() == tokens.size());
    for (const auto& [seq, t] : tokens) {
      REQUIRE(bm.num_tokens(seq) == static_cast<int64_t>(t.size()));
      const auto& table = bm.block_table(seq);
      REQUIRE(static_cast<int64_t>(table.size()) == (static_cast<int64_t>(t.size()) + bs - 1) / bs);
      for (BlockId b : table) ++holders[static_cast<size_t>(b)];
    }
    int32_t used = 0;
    for (BlockId b = 0; b < bm.num_total_blocks(); ++b) {
      REQUIRE(bm.ref_count(b) == holders[static_cast<size_t>(b)]);
      if (holders[static_cast<size_t>(b)] > 0) ++used;
    }
    REQUIRE(bm.num_used_blocks() == used);
    REQUIRE(bm.num_free_blocks() + bm.num_used_blocks() == bm.num_total_blocks());
    REQUIRE(bm.num_cached_evictable_blocks() <= bm.num_free_blocks());
    REQUIRE(bm.prefix_cache_stats().hit_blocks == expected_hit_blocks);
  }
};

// How often the interesting paths ran, so a run that never exercised them fails instead of passing.
struct FuzzCoverage {
  int64_t hit_blocks = 0, copies_on_write = 0, rejected = 0, readmitted = 0, forks = 0;
};

FuzzCoverage run_fuzz(uint32_t seed, int32_t block_size, int32_t num_blocks, bool caching, int steps) {
  FuzzCoverage coverage;
  INFO(fmt::format("seed {} block_size {} num_blocks {} caching {}", seed, block_size, num_blocks, caching));
  std::mt19937 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  BlockManager bm({.block_size = block_size, .num_blocks = num_blocks, .enable_prefix_caching = caching});
  FuzzModel model(bm);
  // A few shared "documents" so that prompts often start with the same prefix.
  std::vector<std::vector<int32_t>> documents(4);
  for (auto& d : documents) {
    d.resize(static_cast<size_t>(uniform(block_size, 5 * block_size)));
    for (auto& t : d) t = static_cast<int32_t>(uniform(0, 50));
  }
  std::vector<std::vector<int32_t>> preempted;  // tokens of sequences preempted by recompute
  SequenceId next_id = 0;
  auto random_live = [&]() {
    auto it = model.tokens.begin();
    std::advance(it, uniform(0, static_cast<int64_t>(model.tokens.size()) - 1));
    return it->first;
  };

  for (int step = 0; step < steps; ++step) {
    INFO("step " << step);
    const int64_t op = uniform(0, 9);
    if (op <= 2 || model.tokens.empty()) {  // a new request, or a preempted one coming back
      std::vector<int32_t> prompt;
      if (!preempted.empty() && uniform(0, 1) == 0) {
        prompt = preempted.back();
      } else {
        const auto& doc = documents[static_cast<size_t>(uniform(0, 3))];
        prompt.assign(doc.begin(), doc.begin() + uniform(0, static_cast<int64_t>(doc.size())));
        const int64_t tail = uniform(prompt.empty() ? 1 : 0, 2 * block_size);
        for (int64_t i = 0; i < tail; ++i) prompt.push_back(static_cast<int32_t>(uniform(0, 50)));
      }
      if (bm.can_allocate(prompt)) {
        model.allocate(next_id++, prompt);
        if (!preempted.empty() && prompt == preempted.back()) {
          preempted.pop_back();
          ++coverage.readmitted;
        }
      } else {
        ++coverage.rejected;
        CHECK_THROWS_AS(bm.allocate(next_id, prompt), std::runtime_error);
      }
    } else if (op <= 4) {  // a prefill chunk or the pending decode token of some sequence
      const SequenceId seq = random_live();
      const int64_t computed = bm.num_computed_tokens(seq);
      const int64_t total = bm.num_tokens(seq);
      if (computed < total) model.compute(seq, uniform(computed + 1, total));
    } else if (op <= 6) {  // decode growth: only after the sequence is fully computed
      const SequenceId seq = random_live();
      if (bm.num_computed_tokens(seq) == bm.num_tokens(seq)) {
        if (bm.can_append(seq)) {
          const int32_t token = static_cast<int32_t>(uniform(0, 50));
          const AppendResult r = bm.append_slot(seq, token);
          model.tokens[seq].push_back(token);
          REQUIRE(bm.block_table(seq).back() == r.block);
          REQUIRE(static_cast<size_t>(r.offset) == (model.tokens[seq].size() - 1) % static_cast<size_t>(block_size));
          if (r.copy_from) ++coverage.copies_on_write;
          if (r.copy_from) model.kv[static_cast<size_t>(r.block)] = model.kv[static_cast<size_t>(*r.copy_from)];
        } else {
          CHECK_THROWS_AS(bm.append_slot(seq, 0), std::runtime_error);
        }
      }
    } else if (op == 7) {  // n > 1: a sibling sharing every block of a computed sequence
      const SequenceId seq = random_live();
      if (bm.num_computed_tokens(seq) == bm.num_tokens(seq)) {
        bm.fork(seq, next_id);
        model.tokens[next_id] = model.tokens[seq];
        ++coverage.forks;
        ++next_id;
      }
    } else if (op == 8) {  // finish or abort
      const SequenceId seq = random_live();
      bm.free(seq);
      model.tokens.erase(seq);
    } else {  // preemption by recompute: free now, come back later with every token as the prompt
      const SequenceId seq = random_live();
      preempted.push_back(model.tokens[seq]);
      bm.free(seq);
      model.tokens.erase(seq);
    }
    model.check();
  }
  for (SequenceId seq : bm.sequence_ids()) bm.free(seq);
  model.tokens.clear();
  model.check();
  REQUIRE(bm.num_free_blocks() == bm.num_total_blocks());
  REQUIRE(bm.num_used_blocks() == 0);
  coverage.hit_blocks = bm.prefix_cache_stats().hit_blocks;
  return coverage;
}

}  // namespace

TEST_CASE("block manager property test: random operations keep every invariant", "[block_manager][fuzz]") {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    for (const FuzzCoverage& c : {run_fuzz(seed, 4, 12, true, 3000), run_fuzz(seed + 100, 16, 10, true, 3000),
                                  run_fuzz(seed + 200, 1, 12, true, 2000)}) {
      INFO(fmt::format("seed {}: {} hit blocks, {} copies on write, {} rejected, {} readmitted, {} forks", seed,
                       c.hit_blocks, c.copies_on_write, c.rejected, c.readmitted, c.forks));
      CHECK(c.hit_blocks > 0);
      CHECK(c.rejected > 0);
      CHECK(c.readmitted > 0);
      CHECK(c.forks > 0);
    }
    const FuzzCoverage off = run_fuzz(seed + 300, 4, 12, false, 2000);
    CHECK(off.hit_blocks == 0);
  }
  // Block size 1 has no partial blocks, so copy-on-write only shows with larger blocks.
  CHECK(run_fuzz(7, 4, 12, true, 3000).copies_on_write > 0);
}

TEST_CASE("block manager property test: prefix cache actually gets hits", "[block_manager][fuzz]") {
  // Guards the fuzz test itself: with shared documents and a roomy pool, reuse must happen, so the
  // content checks on hits above are exercised.
  BlockManager bm({.block_size = 4, .num_blocks = 64});
  FuzzModel model(bm);
  const std::vector<int32_t> doc{5, 6, 7, 8, 9, 10, 11, 12, 13};
  model.allocate(0, doc);
  model.compute(0, 9);
  model.allocate(1, doc);
  model.check();
  CHECK(bm.prefix_cache_stats().hit_blocks == 2);
}
