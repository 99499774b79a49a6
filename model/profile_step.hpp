#pragma once
// The largest step a model's limits allow, run once before the KV cache is sized: max_tokens rows over
// as many sequences as a step may hold, every sequence with a logits row, all of them sampled. A GPU
// backend allocates its workspaces (attention partials, cuBLASLt plans, sampling buffers) on first use;
// after this step they all exist, so the memory left is what the KV cache can have.

#include "model/transformer.hpp"

namespace sabre {

void run_profile_step(Transformer& model);

}  // namespace sabre
