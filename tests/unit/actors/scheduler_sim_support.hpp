#pragma once
// What the scheduler simulations share: a fake model whose next token depends only on (sequence,
// position), so a recomputed sequence must continue exactly as before, and a fake device that holds the
// token each KV slot was computed for, so every read through a block table can be checked.

#include <cstdint>
#include <vector>

#include "actors/step_plan.hpp"

namespace sabre::sim {

inline int32_t fake_model_token(SequenceId seq, int64_t position) {
  return static_cast<int32_t>((seq * 31 + position * 7) % 500 + 1);
}

// The KV pool as the device would hold it: which token each slot was computed for (-1: never written).
class FakeDevice {
 public:
  FakeDevice(int32_t num_blocks, int32_t block_size)
      : block_size_(block_size), slots_(static_cast<size_t>(num_blocks), std::vector<int32_t>(static_cast<size_t>(block_size), -1)) {}

  void copy(const BlockCopy& c) { slots_.at(static_cast<size_t>(c.to)) = slots_.at(static_cast<size_t>(c.from)); }
  int32_t& at(const std::vector<BlockId>& table, int64_t position) {
    return slots_.at(static_cast<size_t>(table.at(static_cast<size_t>(position / block_size_))))
        .at(static_cast<size_t>(position % block_size_));
  }
  // Whether positions [0, n) read through `table` hold `tokens`' first n.
  bool holds(const std::vector<BlockId>& table, const std::vector<int32_t>& tokens, int64_t n) {
    for (int64_t p = 0; p < n; ++p) {
      if (at(table, p) != tokens[static_cast<size_t>(p)]) return false;
    }
    return true;
  }

 private:
  int32_t block_size_;
  std::vector<std::vector<int32_t>> slots_;
};

}  // namespace sabre::sim
