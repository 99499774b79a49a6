#include "model/tokenizer/word_cache.hpp"

// Header-only use: sabre_tokenizer does not link libxxhash.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <bit>
#include <mutex>

namespace sabre {

WordCache::WordCache(size_t max_entries)
    : max_entries_(max_entries), slots_(std::bit_ceil(std::max<size_t>(16, max_entries * 2))) {}

uint64_t WordCache::hash(std::string_view key) {
  const uint64_t h = XXH3_64bits(key.data(), key.size());
  return h == 0 ? 1 : h;
}

size_t WordCache::find_slot(std::string_view key, uint64_t key_hash) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = key_hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.hash == 0) return i;
    if (s.hash == key_hash && s.key_len == key.size() &&
        std::string_view(keys_).substr(s.key_offset, s.key_len) == key) {
      return i;
    }
  }
}

bool WordCache::lookup(std::string_view key, uint64_t key_hash, std::vector<TokenId>& out) const {
  std::shared_lock lock(mutex_);
  const Slot& s = slots_[find_slot(key, key_hash)];
  if (s.hash == 0) return false;
  out.insert(out.end(), ids_.begin() + s.ids_offset, ids_.begin() + s.ids_offset + s.ids_len);
  return true;
}

void WordCache::insert(std::string_view key, uint64_t key_hash, std::span<const TokenId> ids) {
  if (key.size() > kMaxKeyBytes || ids.size() > UINT16_MAX) return;
  std::unique_lock lock(mutex_);
  // The slot array stays at most half full, so probing always ends at an empty slot.
  if (size_ >= max_entries_) return;
  Slot& s = slots_[find_slot(key, key_hash)];
  if (s.hash != 0) return;  // another thread stored it meanwhile
  s.hash = key_hash;
  s.key_offset = static_cast<uint32_t>(keys_.size());
  s.key_len = static_cast<uint16_t>(key.size());
  s.ids_offset = static_cast<uint32_t>(ids_.size());
  s.ids_len = static_cast<uint16_t>(ids.size());
  keys_.append(key);
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  ++size_;
}

}  // namespace sabre
