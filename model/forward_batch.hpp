#pragma once
// The input of one forward step: a flat list of tokens from one or more sequences, each sequence a
// contiguous run of rows with its own block table into a paged KV cache. A prompt (or a chunk of one) is
// a run of many rows, a decode step a run of one, so the same call serves prefill, decode and
// continuous batches that mix both (the scheduler's StepPlan becomes one of these, see
// actors/step_plan.hpp).

#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

namespace sabre {

class KvCache;

struct SequenceSlice {
  int64_t first_row = 0;      // the sequence's first token in ForwardBatch::token_ids
  int64_t num_rows = 0;       // how many of its tokens this step computes
  int64_t cached_tokens = 0;  // tokens already in its KV cache; this step's sit at positions cached_tokens...
  KvCache* kv = nullptr;      // the block pool its keys and values live in (written for the new rows, read for all)
  // The pool blocks holding its tokens, in order: position p lives in block_table[p / block_size] at slot
  // p % block_size. Covers at least cached_tokens + num_rows positions.
  std::vector<int32_t> block_table;
};

// Blocks 0..n-1 in order: the table of a sequence that has a pool to itself (generate(), tests).
inline std::vector<int32_t> identity_block_table(int64_t blocks) {
  std::vector<int32_t> table(static_cast<size_t>(blocks));
  std::iota(table.begin(), table.end(), 0);
  return table;
}

struct ForwardBatch {
  std::vector<int32_t> token_ids;         // one per row
  std::vector<int32_t> positions;         // one per row: cached_tokens + index within the slice
  std::vector<SequenceSlice> sequences;   // rows partitioned into sequences, in row order
  std::vector<int32_t> logit_rows;        // rows whose next-token logits are wanted (last of each prompt, ...)

  void clear() {
    token_ids.clear();
    positions.clear();
    sequences.clear();
    logit_rows.clear();
  }
  // Appends `tokens` of one sequence whose KV already holds `cached_tokens` positions, stored in `kv`'s
  // blocks `block_table`; when `want_logits`, the last of the tokens gets a logits row. Returns the index
  // of the new slice.
  size_t add_sequence(std::span<const int32_t> tokens, int64_t cached_tokens, KvCache* kv,
                      std::span<const int32_t> block_table, bool want_logits) {
    SequenceSlice slice;
    slice.first_row = static_cast<int64_t>(token_ids.size());
    slice.num_rows = static_cast<int64_t>(tokens.size());
    slice.cached_tokens = cached_tokens;
    slice.kv = kv;
    slice.block_table.assign(block_table.begin(), block_table.end());
    for (size_t i = 0; i < tokens.size(); ++i) {
      token_ids.push_back(tokens[i]);
      positions.push_back(static_cast<int32_t>(cached_tokens + static_cast<int64_t>(i)));
    }
    if (want_logits && !tokens.empty()) logit_rows.push_back(static_cast<int32_t>(token_ids.size() - 1));
    sequences.push_back(std::move(slice));
    return sequences.size() - 1;
  }
  int64_t rows() const { return static_cast<int64_t>(token_ids.size()); }
};

}  // namespace sabre
