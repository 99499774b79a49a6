// Unit tests of the KV block manager: accounting, prefix-cache reuse and eviction, copy-on-write.
#include <catch2/catch.hpp>

#include <numeric>
#include <vector>

#include "actors/block_manager.hpp"

using namespace sabre;

namespace {
std::vector<int32_t> iota_tokens(int32_t n, int32_t first = 1) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}
}  // namespace

TEST_CASE("block manager: allocate, append and free account for every block", "[block_manager]") {
  BlockManager bm({.block_size = 4, .num_blocks = 8, .enable_prefix_caching = true});
  bm.check_invariants();
  const auto prompt = iota_tokens(10);  // 3 blocks, the last holding 2 tokens
  REQUIRE(bm.can_allocate(prompt));
  CHECK(bm.allocate(1, prompt) == 0);
  bm.check_invariants();
  CHECK(bm.block_table(1).size() == 3);
  CHECK(bm.num_used_blocks() == 3);
  CHECK(bm.num_free_blocks() == 5);
  // Two appends fill the third block in place, the third append opens a fourth.
  CHECK(bm.append_slot(1, 100).offset == 2);
  CHECK(bm.append_slot(1, 101).offset == 3);
  bm.check_invariants();
  CHECK(bm.num_used_blocks() == 3);
  const AppendResult r = bm.append_slot(1, 102);
  CHECK(r.offset == 0);
  CHECK_FALSE(r.copy_from.has_value());
  bm.check_invariants();
  CHECK(bm.num_used_blocks() == 4);
  bm.free(1);
  bm.check_invariants();
  CHECK(bm.num_free_blocks() == 8);
  CHECK(bm.num_cached_evictable_blocks() == 0);  // nothing was marked computed, so nothing was cached
  CHECK_THROWS_AS(bm.free(1), std::out_of_range);
}

TEST_CASE("block manager: a computed prompt is reused by the next request with the same prefix", "[block_manager]") {
  BlockManager bm({.block_size = 4, .num_blocks = 16, .enable_prefix_caching = true});
  const auto a = iota_tokens(13);  // blocks [1..4] [5..8] [9..12] [13]
  bm.allocate(1, a);
  bm.mark_computed(1, 13);
  bm.check_invariants();
  auto b = iota_tokens(12);  // same first 12 tokens, then differs
  b.push_back(999);
  b.push_back(1000);
  CHECK(bm.allocate(2, b) == 12);
  bm.check_invariants();
  for (size_t i = 0; i < 3; ++i) {
    CHECK(bm.block_table(2)[i] == bm.block_table(1)[i]);
    CHECK(bm.ref_count(bm.block_table(2)[i]) == 2);
  }
  CHECK(bm.block_table(2)[3] != bm.block_table(1)[3]);  // partial blocks are never shared
  CHECK(bm.prefix_cache_stats().hit_blocks == 3);
  CHECK(bm.num_computed_tokens(2) == 12);

  // The same prompt again: its last block is full but must stay uncached so prefill has a token to run.
  const auto c = iota_tokens(12);
  CHECK(bm.allocate(3, c) == 8);
  bm.check_invariants();
  CHECK(bm.block_table(3)[2] != bm.block_table(1)[2]);
  // Publishing the duplicate third block keeps the original in the cache.
  bm.mark_computed(3, 12);
  bm.check_invariants();
  CHECK(bm.cached_block_tokens(bm.block_table(3)[2]).empty());
}

TEST_CASE("block manager: freed cached blocks stay reusable until evicted least recently used first", "[block_manager]") {
  BlockManager bm({.block_size = 2, .num_blocks = 6, .enable_prefix_caching = true});
  const std::vector<int32_t> a{1, 2, 3, 4, 5};  // 2 full + 1 partial
  const std::vector<int32_t> b{7, 8, 9, 10, 11};
  bm.allocate(1, a);
  bm.mark_computed(1, 5);
  bm.free(1);
  bm.allocate(2, b);
  bm.mark_computed(2, 5);
  bm.free(2);
  bm.check_invariants();
  CHECK(bm.num_free_blocks() == 6);
  CHECK(bm.num_cached_evictable_blocks() == 4);
  // Reuse of a free cached block takes it back out of the free queue.
  CHECK(bm.allocate(3, a) == 4);
  bm.check_invariants();
  CHECK(bm.num_cached_evictable_blocks() == 2);
  CHECK(bm.num_used_blocks() == 3);
  bm.free(3);
  // Now b's blocks are the least recently freed: a prompt needing all six blocks evicts b first.
  const std::vector<int32_t> big{50, 51, 52, 53, 54, 55, 56, 57};  // 4 blocks
  bm.allocate(4, big);
  bm.check_invariants();
  CHECK(bm.num_cached_evictable_blocks() == 2);
  bm.free(4);
  CHECK(bm.allocate(5, a) == 4);   // a survived
  CHECK(bm.allocate(6, b) == 0);   // b was evicted
  bm.check_invariants();
  CHECK(bm.prefix_cache_stats().hit_blocks == 4);
}

TEST_CASE("block manager: a block filled during decode becomes reusable once computed", "[block_manager]") {
  BlockManager bm({.block_size = 4, .num_blocks = 8, .enable_prefix_caching = true});
  bm.allocate(1, std::vector<int32_t>{1, 2, 3});
  bm.mark_computed(1, 3);
  bm.append_slot(1, 4);  // fills block 0
  bm.append_slot(1, 5);
  bm.check_invariants();
  // Not computed yet: another prompt cannot reuse it.
  CHECK(bm.allocate(2, std::vector<int32_t>{1, 2, 3, 4, 9}) == 0);
  bm.mark_computed(1, 5);
  bm.check_invariants();
  CHECK(bm.allocate(3, std::vector<int32_t>{1, 2, 3, 4, 9}) == 4);
  CHECK(bm.block_table(3)[0] == bm.block_table(1)[0]);
  bm.check_invariants();
}

TEST_CASE("block manager: fork shares blocks and copies the shared partial block on write", "[block_manager]") {
  BlockManager bm({.block_size = 4, .num_blocks = 8, .enable_prefix_caching = true});
  bm.allocate(1, iota_tokens(6));
  CHECK_THROWS_AS(bm.fork(1, 2), std::logic_error);  // prefill has not run yet
  bm.mark_computed(1, 6);
  bm.fork(1, 2);
  CHECK_THROWS_AS(bm.fork(1, 2), std::logic_error);  // child exists
  bm.check_invariants();
  CHECK(bm.ref_count(bm.block_table(1)[0]) == 2);
  CHECK(bm.num_used_blocks() == 2);
  REQUIRE(bm.can_append(1));
  const AppendResult r = bm.append_slot(1, 42);
  bm.check_invariants();
  REQUIRE(r.copy_from.has_value());
  CHECK(*r.copy_from == bm.block_table(2)[1]);
  CHECK(r.block != *r.copy_from);
  CHECK(r.offset == 2);
  CHECK(bm.num_used_blocks() == 3);
  // The sibling now owns the old block alone and writes into it in place.
  const AppendResult r2 = bm.append_slot(2, 43);
  CHECK_FALSE(r2.copy_from.has_value());
  bm.free(1);
  bm.free(2);
  bm.check_invariants();
  CHECK(bm.num_free_blocks() == 8);
}

TEST_CASE("block manager: check before act when the pool is full", "[block_manager]") {
  BlockManager bm({.block_size = 4, .num_blocks = 2, .enable_prefix_caching = true});
  bm.allocate(1, iota_tokens(8));
  CHECK_FALSE(bm.can_append(1));
  CHECK_THROWS_AS(bm.append_slot(1, 5), std::runtime_error);
  CHECK_FALSE(bm.can_allocate(iota_tokens(1, 50)));
  CHECK_THROWS_AS(bm.allocate(2, iota_tokens(1, 50)), std::runtime_error);
  CHECK_FALSE(bm.has_sequence(2));
  bm.check_invariants();
  // A prompt served entirely by blocks in use needs no free block at all, except its uncached tail.
  bm.mark_computed(1, 8);
  CHECK_FALSE(bm.can_allocate(iota_tokens(9)));  // 2 hits in use + 1 fresh block: none free
  CHECK_THROWS_AS(bm.allocate(1, iota_tokens(3)), std::logic_error);
  CHECK_THROWS_AS(BlockManager({.block_size = 0, .num_blocks = 1}), std::invalid_argument);
}

TEST_CASE("block manager: prefix caching can be disabled", "[block_manager]") {
  BlockManager bm({.block_size = 4, .num_blocks = 8, .enable_prefix_caching = false});
  bm.allocate(1, iota_tokens(9));
  bm.mark_computed(1, 9);
  bm.free(1);
  bm.check_invariants();
  CHECK(bm.num_cached_evictable_blocks() == 0);
  CHECK(bm.allocate(2, iota_tokens(9)) == 0);
  CHECK(bm.prefix_cache_stats().hit_blocks == 0);
  CHECK(bm.prefix_cache_stats().queried_blocks == 0);
  bm.check_invariants();
}

TEST_CASE("block keys chain the parent: equal blocks after different prefixes differ", "[block_manager]") {
  const std::vector<int32_t> a{1, 2, 3, 4};
  const std::vector<int32_t> b{1, 2, 3, 5};
  const BlockKey ka = chain_block_key(kRootBlockKey, a);
  CHECK(ka == chain_block_key(kRootBlockKey, a));
  CHECK_FALSE(ka == chain_block_key(kRootBlockKey, b));
  CHECK_FALSE(chain_block_key(ka, a) == chain_block_key(chain_block_key(kRootBlockKey, b), a));
  // A prompt that shares a later block but not the first one gets no hit at all.
  BlockManager bm({.block_size = 4, .num_blocks = 8});
  std::vector<int32_t> first{1, 2, 3, 4, 9, 9, 9, 9, 0};
  bm.allocate(1, first);
  bm.mark_computed(1, 9);
  std::vector<int32_t> second{7, 7, 7, 7, 9, 9, 9, 9, 0};
  CHECK(bm.allocate(2, second) == 0);
  bm.check_invariants();
}

TEST_CASE("block manager: speculated slots are checked together and rejected ones truncated", "[block_manager]") {
  BlockManager bm({.block_size = 4, .num_blocks = 4, .enable_prefix_caching = true});
  const auto prompt = iota_tokens(6);  // 2 blocks, the second holding 2 tokens
  bm.allocate(1, prompt);
  bm.mark_computed(1, 6);
  // 1 input + 5 proposals: 2 in the second block, 4 in a third -> one new block.
  CHECK(bm.can_append(1, 6));
  CHECK(bm.can_append(1, 10));       // two new blocks: exactly the two free
  CHECK_FALSE(bm.can_append(1, 11));  // three
  for (int32_t t = 0; t < 6; ++t) bm.append_slot(1, 100 + t);
  CHECK(bm.block_table(1).size() == 3);
  bm.check_invariants();
  // Two of the six computed (the input and one accepted proposal): the rest goes, and the third block
  // is left empty and freed.
  bm.mark_computed(1, 8);
  bm.truncate(1, 8);
  bm.check_invariants();
  CHECK(bm.num_tokens(1) == 8);
  CHECK(bm.block_table(1).size() == 2);
  CHECK(bm.num_free_blocks() == 2);
  // The full second block (computed: 5, 6, 100, 101) is in the prefix cache; nothing computed is dropped.
  CHECK_THROWS_AS(bm.truncate(1, 7), std::out_of_range);
  CHECK_THROWS_AS(bm.truncate(1, 9), std::out_of_range);
  bm.append_slot(1, 7);
  bm.truncate(1, 8);
  CHECK(bm.num_tokens(1) == 8);
  bm.check_invariants();
  bm.free(1);
  bm.check_invariants();
  CHECK(bm.num_free_blocks() == 4);
}
