#pragma once
// The BPE merge ranks as a flat open-addressing table from a token pair to (rank, merged token): the
// merge loop looks pairs up constantly, and a node-based map costs a cache miss per node on top of the
// bucket array.

#include <bit>
#include <cstdint>
#include <vector>

#include "model/tokenizer/tokenizer.hpp"

namespace sabre {

class MergeTable {
 public:
  struct Target {
    uint32_t rank;
    TokenId new_id;
  };

  explicit MergeTable(size_t expected_pairs = 0) { reserve(expected_pairs); }

  // Inserts or overwrites (a pair listed twice keeps its last rank, as `tokenizers` builds its map).
  void set(TokenId left, TokenId right, Target target) {
    if ((size_ + 1) * 10 > slots_.size() * 7) reserve(std::max<size_t>(size_ * 2, 16));
    Slot& s = slots_[find(key(left, right))];
    if (s.key == kEmpty) ++size_;
    s.key = key(left, right);
    s.target = target;
  }

  const Target* get(TokenId left, TokenId right) const {
    const Slot& s = slots_[find(key(left, right))];
    return s.key == kEmpty ? nullptr : &s.target;
  }

 private:
  struct Slot {
    uint64_t key = kEmpty;
    Target target{};
  };
  // Token ids are non-negative 32-bit values, so no pair has all 64 bits set.
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  static uint64_t key(TokenId left, TokenId right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }

  size_t find(uint64_t k) const {
    // Fibonacci hashing spreads the structured pair keys over the table.
    size_t i = static_cast<size_t>((k * 0x9E3779B97F4A7C15ull) >> shift_);
    const size_t mask = slots_.size() - 1;
    while (slots_[i].key != kEmpty && slots_[i].key != k) i = (i + 1) & mask;
    return i;
  }

  void reserve(size_t pairs) {
    const size_t wanted = std::bit_ceil(std::max<size_t>(16, pairs * 10 / 7 + 1));
    if (wanted <= slots_.size()) return;
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(wanted, Slot{});
    shift_ = 64 - std::countr_zero(wanted);
    for (const Slot& s : old) {
      if (s.key != kEmpty) slots_[find(s.key)] = s;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
  int shift_ = 64;
};

}  // namespace sabre
