// BlockManager::check_invariants: every count the manager keeps incrementally, recomputed from scratch.
#include <algorithm>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "actors/block_manager.hpp"

namespace sabre {

namespace {
[[noreturn]] void broken(const std::string& what) { throw std::logic_error("BlockManager invariant broken: " + what); }
}  // namespace

void BlockManager::check_invariants() const {
  const size_t total = static_cast<size_t>(config_.num_blocks);
  if (blocks_.size() != total) broken(fmt::format("{} block records for {} blocks", blocks_.size(), total));

  // Reference counts from the block tables.
  std::vector<int32_t> holders(total, 0);
  const size_t bs = static_cast<size_t>(config_.block_size);
  for (const auto& [id, s] : sequences_) {
    if (static_cast<int64_t>(s.table.size()) != blocks_for(static_cast<int64_t>(s.tokens.size())))
      broken(fmt::format("sequence {} has {} tokens but {} blocks", id, s.tokens.size(), s.table.size()));
    if (s.num_computed > static_cast<int64_t>(s.tokens.size()))
      broken(fmt::format("sequence {} has {} computed of {} tokens", id, s.num_computed, s.tokens.size()));
    for (size_t i = 0; i < s.table.size(); ++i) {
      const BlockId b = s.table[i];
      if (b < 0 || static_cast<size_t>(b) >= total) broken(fmt::format("sequence {} holds block id {}", id, b));
      ++holders[static_cast<size_t>(b)];
      const Block& block = blocks_[static_cast<size_t>(b)];
      if (!block.key) continue;
      // A cached block must hold exactly this sequence's tokens at that position.
      if ((i + 1) * bs > s.tokens.size()) broken(fmt::format("sequence {} has cached block {} in its partial tail", id, b));
      if (!std::equal(block.tokens.begin(), block.tokens.end(), s.tokens.begin() + static_cast<std::ptrdiff_t>(i * bs),
                      s.tokens.begin() + static_cast<std::ptrdiff_t>((i + 1) * bs)))
        broken(fmt::format("cached block {} at position {} of sequence {} holds other tokens", b, i, id));
    }
  }

  size_t used = 0;
  int32_t cached_free = 0;
  for (size_t b = 0; b < total; ++b) {
    const Block& block = blocks_[b];
    if (block.ref_count != holders[b])
      broken(fmt::format("block {} has ref_count {} but {} block tables hold it", b, block.ref_count, holders[b]));
    if (block.ref_count > 0) ++used;
    if (block.ref_count == 0 && block.key) ++cached_free;
    if (block.key) {
      if (block.tokens.size() != bs) broken(fmt::format("cached block {} holds {} tokens, not {}", b, block.tokens.size(), bs));
      auto it = cache_.find(*block.key);
      if (it == cache_.end() || it->second != static_cast<BlockId>(b)) broken(fmt::format("cached block {} is not in the cache map", b));
      if (chain_block_key(block.parent_key, block.tokens) != *block.key) broken(fmt::format("cached block {} key does not match its tokens", b));
    } else if (!block.tokens.empty()) {
      broken(fmt::format("uncached block {} keeps {} tokens", b, block.tokens.size()));
    }
  }
  for (const auto& [key, b] : cache_)
    if (b < 0 || static_cast<size_t>(b) >= total || !blocks_[static_cast<size_t>(b)].key || *blocks_[static_cast<size_t>(b)].key != key)
      broken(fmt::format("cache map entry points to block {} with another key", b));
  if (!config_.enable_prefix_caching && !cache_.empty()) broken("prefix caching is off but blocks are cached");

  // The free queue: exactly the blocks nobody holds, each once, with the position it records.
  std::vector<bool> seen(total, false);
  for (auto it = free_queue_.begin(); it != free_queue_.end(); ++it) {
    const BlockId b = *it;
    if (b < 0 || static_cast<size_t>(b) >= total) broken(fmt::format("free queue holds block id {}", b));
    if (seen[static_cast<size_t>(b)]) broken(fmt::format("block {} is in the free queue twice", b));
    seen[static_cast<size_t>(b)] = true;
    const Block& block = blocks_[static_cast<size_t>(b)];
    if (block.ref_count != 0) broken(fmt::format("block {} is both free and used (ref_count {})", b, block.ref_count));
    if (block.free_position != it) broken(fmt::format("block {} records a stale free-queue position", b));
  }
  if (used + free_queue_.size() != total)
    broken(fmt::format("{} used + {} free blocks != {} total", used, free_queue_.size(), total));
  if (cached_free != num_cached_free_) broken(fmt::format("{} cached free blocks counted, {} found", num_cached_free_, cached_free));
}

}  // namespace sabre
