#include "actors/block_manager.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace sabre {

BlockManager::BlockManager(BlockManagerConfig config) : config_(config) {
  if (config_.block_size <= 0)
    throw std::invalid_argument(fmt::format("BlockManager: block_size must be positive, got {}", config_.block_size));
  if (config_.num_blocks <= 0)
    throw std::invalid_argument(fmt::format("BlockManager: num_blocks must be positive, got {}", config_.num_blocks));
  blocks_.resize(static_cast<size_t>(config_.num_blocks));
  for (BlockId id = 0; id < config_.num_blocks; ++id) {
    free_queue_.push_back(id);
    blocks_[static_cast<size_t>(id)].free_position = std::prev(free_queue_.end());
  }
}

BlockManager::Sequence& BlockManager::sequence(SequenceId seq, const char* operation) {
  auto it = sequences_.find(seq);
  if (it == sequences_.end()) throw std::out_of_range(fmt::format("BlockManager::{}: unknown sequence {}", operation, seq));
  return it->second;
}

const BlockManager::Sequence& BlockManager::sequence(SequenceId seq, const char* operation) const {
  auto it = sequences_.find(seq);
  if (it == sequences_.end()) throw std::out_of_range(fmt::format("BlockManager::{}: unknown sequence {}", operation, seq));
  return it->second;
}

int64_t BlockManager::blocks_for(int64_t tokens) const { return (tokens + config_.block_size - 1) / config_.block_size; }

BlockManager::CacheLookup BlockManager::lookup_prefix(std::span<const int32_t> prompt, bool reuse_cached) const {
  CacheLookup found;
  if (!config_.enable_prefix_caching || !reuse_cached || prompt.empty()) return found;
  const size_t bs = static_cast<size_t>(config_.block_size);
  // At most (n - 1) / bs blocks: the last prompt token is always computed, so prefill has logits.
  const size_t eligible = (prompt.size() - 1) / bs;
  BlockKey parent = kRootBlockKey;
  for (size_t i = 0; i < eligible; ++i) {
    auto tokens = prompt.subspan(i * bs, bs);
    const BlockKey key = chain_block_key(parent, tokens);
    auto it = cache_.find(key);
    if (it == cache_.end()) break;
    const Block& block = blocks_[static_cast<size_t>(it->second)];
    // The key is 128 bits, but reuse still requires the very same tokens after the very same parent.
    if (block.parent_key != parent || !std::equal(tokens.begin(), tokens.end(), block.tokens.begin(), block.tokens.end())) break;
    found.blocks.push_back(it->second);
    if (block.ref_count == 0) ++found.free_hits;
    parent = key;
  }
  return found;
}

int64_t BlockManager::num_free_blocks_needed(std::span<const int32_t> prompt, bool reuse_cached) const {
  const CacheLookup hits = lookup_prefix(prompt, reuse_cached);
  // Hits on blocks in use cost nothing; hits on free cached blocks and fresh blocks each take a free one.
  const int64_t in_use_hits = static_cast<int64_t>(hits.blocks.size()) - hits.free_hits;
  return blocks_for(static_cast<int64_t>(prompt.size())) - in_use_hits;
}

bool BlockManager::can_allocate(std::span<const int32_t> prompt, bool reuse_cached) const {
  if (prompt.empty()) return false;
  return num_free_blocks_needed(prompt, reuse_cached) <= num_free_blocks();
}

int64_t BlockManager::allocate(SequenceId seq, std::span<const int32_t> prompt, bool reuse_cached) {
  if (prompt.empty()) throw std::invalid_argument(fmt::format("BlockManager::allocate: sequence {} has an empty prompt", seq));
  if (sequences_.count(seq)) throw std::logic_error(fmt::format("BlockManager::allocate: sequence {} already has blocks", seq));
  if (!can_allocate(prompt, reuse_cached))
    throw std::runtime_error(fmt::format("BlockManager::allocate: no room for sequence {} ({} tokens, {} free blocks)", seq,
                                         prompt.size(), num_free_blocks()));
  const CacheLookup hits = lookup_prefix(prompt, reuse_cached);
  Sequence s;
  s.tokens.assign(prompt.begin(), prompt.end());
  for (BlockId id : hits.blocks) {
    Block& block = blocks_[static_cast<size_t>(id)];
    if (block.ref_count == 0) take_cached_block(id);
    ++block.ref_count;
    s.table.push_back(id);
  }
  while (static_cast<int64_t>(s.table.size()) < blocks_for(static_cast<int64_t>(prompt.size()))) s.table.push_back(take_fresh_block());
  s.num_computed = static_cast<int64_t>(hits.blocks.size()) * config_.block_size;
  if (config_.enable_prefix_caching && reuse_cached) {
    stats_.queried_blocks += static_cast<int64_t>((prompt.size() - 1) / static_cast<size_t>(config_.block_size));
    stats_.hit_blocks += static_cast<int64_t>(hits.blocks.size());
  }
  sequences_.emplace(seq, std::move(s));
  return static_cast<int64_t>(hits.blocks.size()) * config_.block_size;
}

bool BlockManager::can_append(SequenceId seq) const {
  const Sequence& s = sequence(seq, "can_append");
  const bool last_full = s.tokens.size() % static_cast<size_t>(config_.block_size) == 0;
  const bool last_shared = !last_full && blocks_[static_cast<size_t>(s.table.back())].ref_count > 1;
  return (last_full || last_shared) ? num_free_blocks() >= 1 : true;
}

bool BlockManager::can_append(SequenceId seq, int64_t count) const {
  if (count <= 1) return count <= 0 || can_append(seq);
  const Sequence& s = sequence(seq, "can_append");
  const auto bs = static_cast<int64_t>(config_.block_size);
  const auto length = static_cast<int64_t>(s.tokens.size());
  const int64_t new_blocks = (length + count + bs - 1) / bs - static_cast<int64_t>(s.table.size());
  const bool last_shared = length % bs != 0 && blocks_[static_cast<size_t>(s.table.back())].ref_count > 1;
  return num_free_blocks() >= new_blocks + (last_shared ? 1 : 0);
}

void BlockManager::truncate(SequenceId seq, int64_t num_tokens) {
  Sequence& s = sequence(seq, "truncate");
  if (num_tokens < s.num_computed || num_tokens > static_cast<int64_t>(s.tokens.size())) {
    throw std::out_of_range(fmt::format("BlockManager::truncate: sequence {} has {} tokens of which {} computed, "
                                        "cannot keep {}",
                                        seq, s.tokens.size(), s.num_computed, num_tokens));
  }
  s.tokens.resize(static_cast<size_t>(num_tokens));
  const auto bs = static_cast<size_t>(config_.block_size);
  const size_t keep = (static_cast<size_t>(num_tokens) + bs - 1) / bs;
  while (s.table.size() > keep) {
    // A block past the computed tokens holds no content key and no other sequence's tokens.
    Block& block = blocks_[static_cast<size_t>(s.table.back())];
    if (--block.ref_count == 0) release_block(s.table.back(), true);
    s.table.pop_back();
  }
}

AppendResult BlockManager::append_slot(SequenceId seq, int32_t token) {
  if (!can_append(seq)) throw std::runtime_error(fmt::format("BlockManager::append_slot: no free block for sequence {}", seq));
  Sequence& s = sequence(seq, "append_slot");
  const int32_t offset = static_cast<int32_t>(s.tokens.size() % static_cast<size_t>(config_.block_size));
  AppendResult result;
  result.offset = offset;
  if (offset == 0) {
    s.table.push_back(take_fresh_block());
  } else if (blocks_[static_cast<size_t>(s.table.back())].ref_count > 1) {
    // Copy-on-write: a forked sibling still needs the shared partial block as it is.
    const BlockId shared = s.table.back();
    s.table.back() = take_fresh_block();
    --blocks_[static_cast<size_t>(shared)].ref_count;  // stays >= 1: the sibling holds it
    result.copy_from = shared;
  }
  result.block = s.table.back();
  s.tokens.push_back(token);
  return result;
}

void BlockManager::extend_keys(Sequence& s) const {
  const size_t bs = static_cast<size_t>(config_.block_size);
  // Only computed blocks get keys: an uncomputed token may still be a placeholder (set_token).
  const size_t full = static_cast<size_t>(s.num_computed) / bs;
  std::span<const int32_t> tokens(s.tokens);
  while (s.full_block_keys.size() < full) {
    const size_t i = s.full_block_keys.size();
    const BlockKey parent = i == 0 ? kRootBlockKey : s.full_block_keys[i - 1];
    s.full_block_keys.push_back(chain_block_key(parent, tokens.subspan(i * bs, bs)));
  }
}

void BlockManager::set_token(SequenceId seq, int64_t position, int32_t token) {
  Sequence& s = sequence(seq, "set_token");
  if (position < s.num_computed || position >= static_cast<int64_t>(s.tokens.size())) {
    throw std::out_of_range(fmt::format("BlockManager::set_token: sequence {} has {} tokens of which {} computed, "
                                        "cannot set position {}",
                                        seq, s.tokens.size(), s.num_computed, position));
  }
  s.tokens[static_cast<size_t>(position)] = token;
}

void BlockManager::mark_computed(SequenceId seq, int64_t num_tokens) {
  Sequence& s = sequence(seq, "mark_computed");
  if (num_tokens < 0 || num_tokens > static_cast<int64_t>(s.tokens.size()))
    throw std::out_of_range(fmt::format("BlockManager::mark_computed: sequence {} has {} tokens, cannot mark {} computed", seq,
                                        s.tokens.size(), num_tokens));
  const int64_t before = s.num_computed;
  s.num_computed = std::max(s.num_computed, num_tokens);
  if (!config_.enable_prefix_caching) return;
  extend_keys(s);
  const size_t bs = static_cast<size_t>(config_.block_size);
  for (size_t i = static_cast<size_t>(before) / bs; i < static_cast<size_t>(s.num_computed) / bs; ++i) {
    Block& block = blocks_[static_cast<size_t>(s.table[i])];
    if (block.key) continue;  // already published (a cache hit, or a forked sibling got here first)
    const BlockKey key = s.full_block_keys[i];
    // The same content computed twice (e.g. a prompt whose last block could not be a hit): keep the
    // block already in the cache, this one stays private and is freed as plain space.
    if (cache_.count(key)) continue;
    block.key = key;
    block.parent_key = i == 0 ? kRootBlockKey : s.full_block_keys[i - 1];
    block.tokens.assign(s.tokens.begin() + static_cast<std::ptrdiff_t>(i * bs), s.tokens.begin() + static_cast<std::ptrdiff_t>((i + 1) * bs));
    cache_.emplace(key, s.table[i]);
  }
}

void BlockManager::fork(SequenceId parent, SequenceId child) {
  if (sequences_.count(child)) throw std::logic_error(fmt::format("BlockManager::fork: child sequence {} already exists", child));
  const Sequence& source = sequence(parent, "fork");
  // Siblings share KV they only read: a block not yet computed would be written by both of them.
  if (source.num_computed != static_cast<int64_t>(source.tokens.size()))
    throw std::logic_error(fmt::format("BlockManager::fork: sequence {} has {} of {} tokens computed; fork after its prefill",
                                       parent, source.num_computed, source.tokens.size()));
  Sequence copy = source;
  for (BlockId id : copy.table) ++blocks_[static_cast<size_t>(id)].ref_count;
  sequences_.emplace(child, std::move(copy));
}

void BlockManager::free(SequenceId seq) {
  Sequence& s = sequence(seq, "free");
  // Last block first: the tail of a prompt is worth less than its head (it is only reusable after the
  // head), so it should be nearer the front of the eviction order.
  for (auto it = s.table.rbegin(); it != s.table.rend(); ++it) {
    Block& block = blocks_[static_cast<size_t>(*it)];
    if (--block.ref_count > 0) continue;
    release_block(*it, !block.key.has_value());
  }
  sequences_.erase(seq);
}

BlockId BlockManager::take_fresh_block() {
  if (free_queue_.empty()) throw std::logic_error("BlockManager: take_fresh_block with no free block (a can_* check was skipped)");
  const BlockId id = free_queue_.front();
  free_queue_.pop_front();
  Block& block = blocks_[static_cast<size_t>(id)];
  if (block.key) {
    evict_key(id);
    --num_cached_free_;
  }
  block.ref_count = 1;
  return id;
}

void BlockManager::take_cached_block(BlockId id) {
  Block& block = blocks_[static_cast<size_t>(id)];
  free_queue_.erase(block.free_position);
  --num_cached_free_;
}

void BlockManager::release_block(BlockId id, bool to_front) {
  Block& block = blocks_[static_cast<size_t>(id)];
  if (to_front) {
    free_queue_.push_front(id);
    block.free_position = free_queue_.begin();
  } else {
    free_queue_.push_back(id);
    block.free_position = std::prev(free_queue_.end());
    ++num_cached_free_;
  }
}

void BlockManager::evict_key(BlockId id) {
  Block& block = blocks_[static_cast<size_t>(id)];
  cache_.erase(*block.key);
  block.key.reset();
  block.tokens.clear();
}

const std::vector<BlockId>& BlockManager::block_table(SequenceId seq) const { return sequence(seq, "block_table").table; }
int64_t BlockManager::num_tokens(SequenceId seq) const { return static_cast<int64_t>(sequence(seq, "num_tokens").tokens.size()); }
int64_t BlockManager::num_computed_tokens(SequenceId seq) const { return sequence(seq, "num_computed_tokens").num_computed; }

int32_t BlockManager::ref_count(BlockId block) const {
  if (block < 0 || block >= config_.num_blocks)
    throw std::out_of_range(fmt::format("BlockManager::ref_count: block {} outside 0..{}", block, config_.num_blocks - 1));
  return blocks_[static_cast<size_t>(block)].ref_count;
}

std::span<const int32_t> BlockManager::cached_block_tokens(BlockId block) const {
  ref_count(block);  // range check
  return blocks_[static_cast<size_t>(block)].tokens;
}

std::vector<SequenceId> BlockManager::sequence_ids() const {
  std::vector<SequenceId> ids;
  for (const auto& [id, s] : sequences_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace sabre
