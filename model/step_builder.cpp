#include "model/step_builder.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "kernels/kv_cache.hpp"

namespace sabre {

void build_step(const ForwardBatch& batch, int64_t padded_rows, int64_t block_table_width, StepDescription& step) {
  const int64_t rows = batch.rows();
  if (padded_rows < rows) {
    throw std::logic_error(fmt::format("build_step: {} padded rows for a batch of {}", padded_rows, rows));
  }
  step.clear();
  step.kv = batch.sequences.empty() ? nullptr : batch.sequences.front().kv;
  step.token_ids.assign(batch.token_ids.begin(), batch.token_ids.end());
  step.positions.assign(batch.positions.begin(), batch.positions.end());
  step.slot_mapping.reserve(static_cast<size_t>(padded_rows));
  step.query_start.push_back(0);
  step.block_table_width = block_table_width;
  step.block_tables.assign(batch.sequences.size() * static_cast<size_t>(block_table_width), -1);
  for (size_t s = 0; s < batch.sequences.size(); ++s) {
    const SequenceSlice& slice = batch.sequences[s];
    const int64_t block_size = slice.kv->block_size();
    const int64_t context = slice.cached_tokens + slice.num_rows;
    // Only the blocks the context reaches: the rest of a longer table (blocks reserved for later tokens)
    // stays -1, as the contract says.
    const int64_t needed = (context + block_size - 1) / block_size;
    if (static_cast<int64_t>(slice.block_table.size()) < needed) {
      throw std::invalid_argument(fmt::format(
          "KV block table too short: sequence {}'s {} cached + {} new tokens need {} blocks of {}, the table has {}", s,
          slice.cached_tokens, slice.num_rows, needed, block_size, slice.block_table.size()));
    }
    for (int64_t b = 0; b < needed; ++b) {
      step.block_tables[s * static_cast<size_t>(block_table_width) + static_cast<size_t>(b)] =
          slice.block_table[static_cast<size_t>(b)];
    }
    for (int64_t i = 0; i < slice.num_rows; ++i) {
      const int64_t p = slice.cached_tokens + i;
      step.slot_mapping.push_back(static_cast<int32_t>(
          int64_t{slice.block_table[static_cast<size_t>(p / block_size)]} * block_size + p % block_size));
    }
    step.query_start.push_back(static_cast<int32_t>(slice.first_row + slice.num_rows));
    step.context_lens.push_back(static_cast<int32_t>(context));
  }
  // Padding: rows in no sequence that store nothing and are never sampled.
  step.token_ids.resize(static_cast<size_t>(padded_rows), 0);
  step.positions.resize(static_cast<size_t>(padded_rows), 0);
  step.slot_mapping.resize(static_cast<size_t>(padded_rows), -1);
  step.logit_rows.assign(batch.logit_rows.begin(), batch.logit_rows.end());
}

}  // namespace sabre
