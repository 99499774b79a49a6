#include "actors/block_hash.hpp"

#include <cstring>
#include <vector>

#include <xxhash.h>

namespace sabre {

BlockKey chain_block_key(const BlockKey& parent, std::span<const int32_t> tokens) {
  // One contiguous buffer (parent key, then the token ids) hashed in a single call; blocks are small
  // (16 tokens by default), so the copy costs less than a streaming state.
  std::vector<unsigned char> bytes(2 * sizeof(uint64_t) + tokens.size_bytes());
  std::memcpy(bytes.data(), &parent.low, sizeof(uint64_t));
  std::memcpy(bytes.data() + sizeof(uint64_t), &parent.high, sizeof(uint64_t));
  if (!tokens.empty()) std::memcpy(bytes.data() + 2 * sizeof(uint64_t), tokens.data(), tokens.size_bytes());
  const XXH128_hash_t hash = XXH3_128bits(bytes.data(), bytes.size());
  return BlockKey{hash.low64, hash.high64};
}

}  // namespace sabre
