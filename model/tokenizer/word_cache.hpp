#pragma once
// A bounded, thread-safe map from a pre-tokenized word to its token ids, laid out flat (open
// addressing over one slot array, keys and ids in two arenas) because encode spends most of its time
// looking words up: a node-based std::unordered_map costs several cache misses per lookup.

#include <cstdint>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "model/tokenizer/tokenizer.hpp"

namespace sabre {

class WordCache {
 public:
  // At most `max_entries` words are kept; once full, insert() does nothing (like `tokenizers`' cache).
  explicit WordCache(size_t max_entries);

  static uint64_t hash(std::string_view key);
  // Appends the ids stored for `key` to `out` and returns true, or returns false.
  bool lookup(std::string_view key, uint64_t key_hash, std::vector<TokenId>& out) const;
  void insert(std::string_view key, uint64_t key_hash, std::span<const TokenId> ids);

  static constexpr size_t kMaxKeyBytes = 255;

 private:
  struct Slot {
    uint64_t hash = 0;  // 0 marks an empty slot (hash() never returns 0)
    uint32_t key_offset = 0;
    uint32_t ids_offset = 0;
    uint16_t key_len = 0;
    uint16_t ids_len = 0;
  };
  // The slot holding `key`, or the empty slot where it would go.
  size_t find_slot(std::string_view key, uint64_t key_hash) const;

  size_t max_entries_;
  size_t size_ = 0;
  std::vector<Slot> slots_;  // a power of two, at least twice max_entries_
  std::string keys_;
  std::vector<TokenId> ids_;
  mutable std::shared_mutex mutex_;
};

}  // namespace sabre
