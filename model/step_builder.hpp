#pragma once
// The model runner's half of the step contract: a ForwardBatch (sequences, each with its own block table
// into one KV pool) becomes the backend's StepDescription (kernels/step.hpp): flat token ids, positions
// and KV slots, query starts, context lengths, block tables as rows of the prepared width, and the
// logits rows. This is where padding happens: the description gets `padded_rows` rows (what the backend
// asked for, Backend::padded_rows); the rows past the batch's are padding (token 0, position 0, slot -1,
// in no sequence, never sampled), so a decode step of 5 sequences replays a graph captured for 8.

#include <cstdint>

#include "kernels/step.hpp"
#include "model/forward_batch.hpp"

namespace sabre {

// Fills `step` (reusing its storage) from `batch`, which the caller has validated (sequences cover the
// rows in order, one pool, positions follow the slices, block tables cover their positions).
// `block_table_width` is the width the backend was prepared for.
void build_step(const ForwardBatch& batch, int64_t padded_rows, int64_t block_table_width, StepDescription& step);

}  // namespace sabre
