#pragma once
// The backend-level tests run store_kv and attention on a step as the Transformer would: the batch
// becomes a StepDescription (build_step) and is uploaded as the backend's current step.

#include <algorithm>

#include "kernels/backend.hpp"
#include "model/forward_batch.hpp"
#include "model/step_builder.hpp"

namespace sabre {

inline void upload_batch(Backend& backend, const ForwardBatch& batch) {
  int64_t widest = 1;
  for (const SequenceSlice& s : batch.sequences) widest = std::max<int64_t>(widest, static_cast<int64_t>(s.block_table.size()));
  backend.prepare({batch.rows(), static_cast<int64_t>(batch.sequences.size()),
                   static_cast<int64_t>(batch.logit_rows.size()), widest});
  StepDescription step;
  build_step(batch, batch.rows(), backend.limits().max_blocks_per_sequence, step);
  backend.upload_step(step);
}

}  // namespace sabre
