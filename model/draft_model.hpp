#pragma once
// The draft model of speculative decoding, loaded onto the target's backend from its own checkpoint
// (an HF directory or a GGUF file). A draft must share the target's vocabulary: its proposals are
// token ids the target scores.

#include <cstdint>
#include <filesystem>
#include <memory>

#include "config/engine_options.hpp"
#include "kernels/backend.hpp"
#include "model/transformer.hpp"

namespace sabre {

// `weights` says how the draft's tensors are kept (a GGUF draft stays quantized unless its gguf field
// says f32, which makes the target's own file a draft that agrees with an f32 target everywhere).
// Throws std::runtime_error naming both sizes when the vocabularies differ, and what opening or loading
// the checkpoint throws, prefixed with the draft's path.
std::unique_ptr<Transformer> load_draft_model(const std::filesystem::path& path, const WeightOptions& weights,
                                              int64_t target_vocab, Backend& backend, StepLimits limits = {});

}  // namespace sabre
