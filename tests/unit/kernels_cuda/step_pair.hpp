#pragma once
// One step described once and uploaded to two backends, each with its own KV pool of the same shape and
// the same block tables: what the [cuda] tests compare the GPU against the CPU on.

#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/backend.hpp"
#include "model/forward_batch.hpp"
#include "model/step_builder.hpp"

namespace sabre::cuda_test {

struct SequenceSpec {
  std::vector<int32_t> tokens;  // this step's rows
  int64_t cached = 0;           // positions already in the pool
  std::vector<int32_t> blocks;  // the sequence's block table
  bool logits = true;
};

inline ForwardBatch batch_for(const std::vector<SequenceSpec>& specs, KvCache* kv) {
  ForwardBatch batch;
  for (const SequenceSpec& s : specs) batch.add_sequence(s.tokens, s.cached, kv, s.blocks, s.logits);
  return batch;
}

// Prepares `backend` for the step and uploads it (on its own pool `kv`).
inline void upload(Backend& backend, const std::vector<SequenceSpec>& specs, KvCache& kv) {
  const ForwardBatch batch = batch_for(specs, &kv);
  int64_t widest = 1;
  for (const SequenceSpec& s : specs) widest = std::max<int64_t>(widest, static_cast<int64_t>(s.blocks.size()));
  backend.prepare({batch.rows(), static_cast<int64_t>(specs.size()), std::max<int64_t>(1, static_cast<int64_t>(batch.logit_rows.size())),
                   widest});
  StepDescription step;
  build_step(batch, batch.rows(), backend.limits().max_blocks_per_sequence, step);
  backend.upload_step(step);
}

inline int64_t total_rows(const std::vector<SequenceSpec>& specs) {
  int64_t rows = 0;
  for (const SequenceSpec& s : specs) rows += static_cast<int64_t>(s.tokens.size());
  return rows;
}

}  // namespace sabre::cuda_test
