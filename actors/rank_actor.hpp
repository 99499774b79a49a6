#pragma once
// The rank actor: one per device rank, spawned detached (its own thread) because the forward pass
// blocks. It owns a StepExecutor (the KV pool and the samplers) and answers each StepInput with a
// StepOutput; a failing step is answered with an error that names the cause.

#include <caf/actor_system.hpp>

#include <memory>

#include "actors/internal_messages.hpp"
#include "model/transformer.hpp"

namespace sabre {

struct RankOptions {
  int64_t rank = 0;
  int64_t num_kv_blocks = 0;
  int64_t block_size = 16;
  ElementType kv_dtype = ElementType::f32;
};

// `model` is shared with whoever loaded it; the rank keeps it alive.
rank_actor spawn_rank(caf::actor_system& system, std::shared_ptr<Transformer> model, RankOptions options);

}  // namespace sabre
