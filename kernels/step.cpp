#include "kernels/step.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "kernels/kv_cache.hpp"

namespace sabre {

void StepDescription::clear() {
  kv = nullptr;
  token_ids.clear();
  positions.clear();
  slot_mapping.clear();
  query_start.clear();
  context_lens.clear();
  block_tables.clear();
  block_table_width = 0;
  logit_rows.clear();
}

namespace {

void fits(const char* what, int64_t count, const char* limit, int64_t capacity) {
  if (count > capacity) {
    throw std::invalid_argument(
        fmt::format("step: {} {}, more than the {} of {} the backend was prepared for", count, what, limit, capacity));
  }
}

}  // namespace

void check_step(const StepDescription& step, const StepLimits& limits) {
  const int64_t rows = step.rows();
  if (rows == 0) throw std::invalid_argument("step: no rows");
  if (step.kv == nullptr) throw std::invalid_argument("step: no KV cache");
  if (static_cast<int64_t>(step.positions.size()) != rows || static_cast<int64_t>(step.slot_mapping.size()) != rows) {
    throw std::invalid_argument(fmt::format("step: {} token ids, {} positions and {} slots disagree", rows,
                                            step.positions.size(), step.slot_mapping.size()));
  }
  const int64_t sequences = step.sequences();
  if (static_cast<int64_t>(step.query_start.size()) != sequences + 1 || step.query_start.front() != 0) {
    throw std::invalid_argument(fmt::format("step: {} query starts for {} sequences (expected {} from 0)",
                                            step.query_start.size(), sequences, sequences + 1));
  }
  if (static_cast<int64_t>(step.block_tables.size()) != sequences * step.block_table_width) {
    throw std::invalid_argument(fmt::format("step: {} block table entries for {} sequences of width {}",
                                            step.block_tables.size(), sequences, step.block_table_width));
  }
  fits("rows", rows, "max_tokens", limits.max_tokens);
  fits("sequences", sequences, "max_sequences", limits.max_sequences);
  fits("logits rows", static_cast<int64_t>(step.logit_rows.size()), "max_logit_rows", limits.max_logit_rows);
  fits("block table entries per sequence", step.block_table_width, "max_blocks_per_sequence",
       limits.max_blocks_per_sequence);
  for (int64_t s = 0; s < sequences; ++s) {
    if (step.rows_of(s) <= 0) throw std::invalid_argument(fmt::format("step: sequence {} has no rows", s));
    if (step.context_lens[static_cast<size_t>(s)] < step.rows_of(s)) {
      throw std::invalid_argument(fmt::format("step: sequence {} has {} rows but a context of {}", s, step.rows_of(s),
                                              step.context_lens[static_cast<size_t>(s)]));
    }
  }
  const int64_t real = step.real_rows();
  if (real > rows) throw std::invalid_argument(fmt::format("step: sequences cover {} rows of {}", real, rows));
  for (int64_t r = real; r < rows; ++r) {
    if (step.slot_mapping[static_cast<size_t>(r)] != -1) {
      throw std::invalid_argument(fmt::format("step: padding row {} has slot {}, expected -1", r,
                                              step.slot_mapping[static_cast<size_t>(r)]));
    }
  }
  for (int32_t r : step.logit_rows) {
    if (r < 0 || r >= real) throw std::invalid_argument(fmt::format("step: logits row {} is not a real row", r));
  }
  if (step.world_size < 1 || step.rank < 0 || step.rank >= step.world_size) {
    throw std::invalid_argument(fmt::format("step: rank {} of a world of {}", step.rank, step.world_size));
  }
}

void check_step_kv(const StepDescription& step) {
  const KvCacheShape& pool = step.kv->shape();
  for (int64_t s = 0; s < step.sequences(); ++s) {
    const int64_t needed = (step.context_lens[static_cast<size_t>(s)] + pool.block_size - 1) / pool.block_size;
    if (needed > step.block_table_width) {
      throw std::invalid_argument(fmt::format("step: sequence {} needs {} KV blocks of {} tokens, its table has {}", s,
                                              needed, pool.block_size, step.block_table_width));
    }
    for (int64_t b = 0; b < needed; ++b) {
      const int32_t block = step.block_table(s)[b];
      if (block < 0 || block >= pool.num_blocks) {
        throw std::invalid_argument(fmt::format("step: sequence {}'s KV block table entry {} is block {}, outside the "
                                                "pool of {} blocks",
                                                s, b, block, pool.num_blocks));
      }
    }
  }
  for (int64_t r = 0; r < step.real_rows(); ++r) {
    const int32_t slot = step.slot_mapping[static_cast<size_t>(r)];
    if (slot < 0 || slot >= pool.token_capacity()) {
      throw std::invalid_argument(fmt::format("step: row {} writes KV slot {}, outside the pool of {} slots", r, slot,
                                              pool.token_capacity()));
    }
  }
}

StepLimits grown_step_limits(const StepLimits& current, const StepLimits& asked) {
  if (asked.max_tokens < 1 || asked.max_sequences < 1 || asked.max_logit_rows < 0 ||
      asked.max_blocks_per_sequence < 1) {
    throw std::invalid_argument(fmt::format(
        "prepare: step limits of {} tokens, {} sequences, {} logits rows and {} blocks per sequence are not a step",
        asked.max_tokens, asked.max_sequences, asked.max_logit_rows, asked.max_blocks_per_sequence));
  }
  return {std::max(current.max_tokens, asked.max_tokens), std::max(current.max_sequences, asked.max_sequences),
          std::max(current.max_logit_rows, asked.max_logit_rows),
          std::max(current.max_blocks_per_sequence, asked.max_blocks_per_sequence)};
}

}  // namespace sabre
