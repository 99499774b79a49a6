#pragma once
// The rank actor: one per device rank, spawned detached (its own thread) because the forward pass
// blocks. It owns a StepExecutor (the KV pool; its backend holds the samplers) and answers each
// StepInput with a StepOutput; a failing step is answered with an error that names the cause (and the
// engine stops: EngineCore).

#include <caf/actor_system.hpp>

#include <memory>

#include "actors/internal_messages.hpp"
#include "model/structured/guided_compiler.hpp"
#include "model/transformer.hpp"

namespace sabre {

struct RankOptions {
  int64_t rank = 0;
  int64_t num_kv_blocks = 0;
  int64_t block_size = 16;
  ElementType kv_dtype = ElementType::f32;
  // Fault injection for tests: the rank fails its step number `fail_at_step` (counting from 1) as a
  // device error would. 0: never. The engine sets it from SABRE_FAULT_INJECT_RANK_STEP.
  int64_t fail_at_step = 0;
  // Compiles the guided-decoding constraints of the rank's samplers (null: the model has no tokenizer).
  std::shared_ptr<structured::GuidedCompiler> guided;
};

// Rank `rank`'s options on a pool of `num_blocks`; SABRE_FAULT_INJECT_RANK_STEP=STEP or RANK:STEP makes
// that rank (0 by default) fail its step STEP, for the tests of what the engine does when a rank fails,
// in the first launch only (`launch` 0): a restarted engine runs clean.
RankOptions rank_options(int32_t rank, int64_t num_blocks, int64_t block_size, ElementType kv_dtype, int launch);

// `model` (and `draft`, the draft model of speculative decoding on the rank that drafts, on the same
// backend) are shared with whoever loaded them; the rank keeps them alive.
rank_actor spawn_rank(caf::actor_system& system, std::shared_ptr<Transformer> model, RankOptions options,
                      std::shared_ptr<Transformer> draft = nullptr);

}  // namespace sabre
