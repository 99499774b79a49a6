#pragma once
// Rotary position embedding frequencies for every rope_scaling type, computed as transformers'
// modeling_rope_utils does (fp32 results), so that logits match Hugging Face exactly.

#include <cstdint>
#include <vector>

#include "config/model_config.hpp"

namespace sabre {

struct RopeFrequencies {
  std::vector<float> inv_freq;     // head_dim / 2 values
  float attention_scaling = 1.0f;  // multiplies cos and sin (yarn's mscale; 1 otherwise)
};

// `sequence_length` is the longest context of the current step; only dynamic NTK scaling uses it (it
// stretches the base once the context outgrows max_position_embeddings, as transformers does).
RopeFrequencies rope_frequencies(const ModelConfig& config, int64_t sequence_length);

// True when the frequencies change with the sequence length (dynamic scaling), so the model must
// recompute them per step.
bool rope_depends_on_length(const ModelConfig& config);

}  // namespace sabre
