#pragma once
// Content keys for full KV blocks, the basis of automatic prefix caching. A block's key chains its
// parent's key with its own token ids, so equal keys mean equal whole prefixes, not merely equal blocks:
// a block can only be reused after the same tokens in the same positions.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

namespace sabre {

// 128 bits of XXH3: a false match needs a collision in 2^128, and the block manager still compares the
// stored token ids before it reuses a block, so a collision cannot silently serve another prompt's KV.
struct BlockKey {
  uint64_t low = 0;
  uint64_t high = 0;
  friend bool operator==(const BlockKey&, const BlockKey&) = default;
};

// The key the first block of every sequence chains from.
inline constexpr BlockKey kRootBlockKey{};

// Key of a block holding `tokens` whose predecessor has key `parent`.
BlockKey chain_block_key(const BlockKey& parent, std::span<const int32_t> tokens);

struct BlockKeyHash {
  size_t operator()(const BlockKey& key) const noexcept { return static_cast<size_t>(key.low ^ (key.high * 0x9E3779B97F4A7C15ull)); }
};

}  // namespace sabre
