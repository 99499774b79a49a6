#pragma once
// The step as the CUDA kernels read it: one device buffer holding the StepDescription's arrays at offsets
// fixed by StepLimits, the counts of the current step, and the attention work list. upload_step fills a
// pinned host copy and sends it with one asynchronous copy; the kernels read counts from the device
// rather than from their launch arguments, so a captured graph replays correctly for any step that fits
// the grid it was captured with. Plain C++: compiled by both g++ and nvcc.

#include <cstdint>

namespace sabre::cuda {

// One block's share of attention: rows first_row .. first_row + rows - 1 (all of sequence `sequence`)
// against keys key_begin .. key_end - 1. partial < 0: the block writes the normalised output; else it
// writes its unnormalised sums to partial slot `partial`, which a MergeItem combines.
struct AttentionItem {
  int32_t sequence = 0;
  int32_t first_row = 0;
  int32_t rows = 0;
  int32_t key_begin = 0;
  int32_t key_end = 0;
  int32_t partial = -1;
};

// Row `row`'s output from partial slots first_partial .. first_partial + partials - 1.
struct MergeItem {
  int32_t row = 0;
  int32_t first_partial = 0;
  int32_t partials = 0;
  int32_t unused = 0;
};

struct StepCounts {
  int32_t rows = 0;        // padding included
  int32_t real_rows = 0;
  int32_t sequences = 0;
  int32_t logit_rows = 0;  // as computed (a graph step computes padded ones)
  int32_t attention_items = 0;
  int32_t merges = 0;
  int32_t partials = 0;
  int32_t unused = 0;
};

// Device pointers into the step buffer.
struct DeviceStep {
  const StepCounts* counts = nullptr;
  const int32_t* token_ids = nullptr;
  const int32_t* positions = nullptr;
  const int32_t* slot_mapping = nullptr;
  const int32_t* query_start = nullptr;
  const int32_t* context_lens = nullptr;
  const int32_t* block_tables = nullptr;  // [sequences][block_table_stride]
  const int32_t* logit_rows = nullptr;
  const AttentionItem* attention_items = nullptr;
  const MergeItem* merges = nullptr;
  int32_t block_table_stride = 0;
};

}  // namespace sabre::cuda
