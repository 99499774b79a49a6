#pragma once
// The KV block pool: fixed-size blocks named by integer ids, a block table per sequence, reference
// counts, and automatic prefix caching. CAF-free so the scheduler's decisions can be tested directly.
//
// Life of a block: free (never used, or evicted) -> used by one or more sequences (refcount > 0) ->
// when its refcount drops to 0 it returns to the free queue; if it holds a full, computed block of
// tokens it keeps its content key and stays findable ("cached, evictable") until a fresh block is
// needed and it is the least recently freed one. A partially filled block is never shared through the
// cache (only fork() shares it, with copy-on-write on the next append).
//
// Check/act pairs: every mutating call has a can_* query; calling the act without room throws.

#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "actors/block_hash.hpp"

namespace sabre {

using BlockId = int32_t;
using SequenceId = int64_t;

struct BlockManagerConfig {
  int32_t block_size = 16;        // tokens per KV block
  int32_t num_blocks = 0;         // blocks in the pool
  bool enable_prefix_caching = true;
};

// Prefix-cache counters: queried blocks are full prompt blocks looked up at allocate(); hit blocks are
// those actually reused (their KV is not recomputed).
struct PrefixCacheStats {
  int64_t queried_blocks = 0;
  int64_t hit_blocks = 0;
};

// Where append_slot put the new token, and a copy the KV backend must do first when the sequence's last
// block was shared (fork) and had to be split: copy `copy_from`'s KV into `block` before writing.
struct AppendResult {
  BlockId block = -1;
  int32_t offset = 0;  // slot within the block
  std::optional<BlockId> copy_from;
};

class BlockManager {
 public:
  explicit BlockManager(BlockManagerConfig config);

  int32_t block_size() const { return config_.block_size; }
  int32_t num_total_blocks() const { return config_.num_blocks; }
  int32_t num_free_blocks() const { return static_cast<int32_t>(free_queue_.size()); }
  int32_t num_used_blocks() const { return num_total_blocks() - num_free_blocks(); }
  // Free blocks that still hold cached content (a subset of the free blocks).
  int32_t num_cached_evictable_blocks() const { return num_cached_free_; }
  const PrefixCacheStats& prefix_cache_stats() const { return stats_; }

  // Whether a prompt of these tokens could get blocks now (counting cache hits on blocks in use as free).
  // `reuse_cached`: false for a prompt that must be computed from its first token (one whose prompt
  // logprobs are wanted), which takes fresh blocks only; its full blocks are still published once computed.
  bool can_allocate(std::span<const int32_t> prompt, bool reuse_cached = true) const;
  // How many free blocks allocate(prompt) would take now: fresh blocks plus cache hits on free blocks.
  int64_t num_free_blocks_needed(std::span<const int32_t> prompt, bool reuse_cached = true) const;
  // Gives sequence `seq` (new) blocks for its whole prompt, reusing cached full blocks of the same
  // prefix (unless not `reuse_cached`). Returns how many leading tokens are already computed (a multiple
  // of block_size), always less than the prompt's length so the last token is computed and yields logits.
  int64_t allocate(SequenceId seq, std::span<const int32_t> prompt, bool reuse_cached = true);

  // Whether one more token fits: room in the last (unshared) block or one free block.
  bool can_append(SequenceId seq) const;
  // Appends one token (the sampled one whose KV the next step computes) and returns its slot. With
  // async scheduling the token may not be known yet: append a placeholder and set_token it later.
  AppendResult append_slot(SequenceId seq, int32_t token);
  // Whether `count` more tokens fit (a speculative decode takes its input and its proposals at once).
  bool can_append(SequenceId seq, int64_t count) const;
  // Drops the tokens from position `num_tokens` on, which must not be computed (speculated tokens the
  // target rejected), and frees the blocks left empty. Throws std::out_of_range otherwise.
  void truncate(SequenceId seq, int64_t num_tokens);
  // Replaces the token at `position`, which must not be computed yet (no content key covers it).
  void set_token(SequenceId seq, int64_t position, int32_t token);

  // Records that the KV of the first `num_tokens` tokens of `seq` is written; full blocks among them
  // become cached (findable by later prompts). Only computed blocks are published, so a prompt never
  // reuses a block whose KV another sequence's prefill has not produced yet.
  void mark_computed(SequenceId seq, int64_t num_tokens);

  // Makes `child` share all of `parent`'s blocks (n > 1 sampling: refcounts go up, nothing is copied).
  // The parent must be fully computed (fork after prefill); otherwise throws std::logic_error.
  void fork(SequenceId parent, SequenceId child);

  // Releases the sequence's blocks (finish, abort or preemption by recompute). Cached blocks stay
  // findable until evicted.
  void free(SequenceId seq);

  bool has_sequence(SequenceId seq) const { return sequences_.count(seq) != 0; }
  const std::vector<BlockId>& block_table(SequenceId seq) const;
  int64_t num_tokens(SequenceId seq) const;
  int64_t num_computed_tokens(SequenceId seq) const;
  int32_t ref_count(BlockId block) const;
  // The token ids a cached block holds (empty for a block with no key); for tests and debugging.
  std::span<const int32_t> cached_block_tokens(BlockId block) const;
  std::vector<SequenceId> sequence_ids() const;

  // Recomputes every count from the block tables and throws std::logic_error naming the first broken
  // invariant. O(blocks + table entries): for tests and debug builds.
  void check_invariants() const;

 private:
  struct Block {
    int32_t ref_count = 0;
    std::optional<BlockKey> key;       // set while the block is in the cache map
    BlockKey parent_key;               // key of the block before it, compared on reuse
    std::vector<int32_t> tokens;       // content behind the key, compared on reuse
    std::list<BlockId>::iterator free_position;  // valid while ref_count == 0
  };
  struct Sequence {
    std::vector<BlockId> table;
    std::vector<int32_t> tokens;
    std::vector<BlockKey> full_block_keys;  // keys of the leading full blocks, computed incrementally
    int64_t num_computed = 0;
  };

  Sequence& sequence(SequenceId seq, const char* operation);
  const Sequence& sequence(SequenceId seq, const char* operation) const;
  int64_t blocks_for(int64_t tokens) const;
  // How many leading full blocks of `prompt` the cache can serve (capped so one token stays uncached),
  // and how many of those are free (they consume a free block when reused).
  struct CacheLookup {
    std::vector<BlockId> blocks;
    int64_t free_hits = 0;
  };
  // No hits when not `reuse_cached` (the prompt is computed in full).
  CacheLookup lookup_prefix(std::span<const int32_t> prompt, bool reuse_cached) const;
  BlockId take_fresh_block();
  void take_cached_block(BlockId block);
  void release_block(BlockId block, bool to_front);
  void evict_key(BlockId block);
  void extend_keys(Sequence& s) const;

  BlockManagerConfig config_;
  std::vector<Block> blocks_;
  // Free blocks, next victim at the front: blocks without content first, then cached blocks in the
  // order they were freed (least recently used first).
  std::list<BlockId> free_queue_;
  int32_t num_cached_free_ = 0;
  std::unordered_map<BlockKey, BlockId, BlockKeyHash> cache_;
  std::unordered_map<SequenceId, Sequence> sequences_;
  PrefixCacheStats stats_;
};

}  // namespace sabre
