#pragma once
// Random weights of a model's shapes (--load-format dummy): every tensor the loader asks for, in the
// config's dtype, holding deterministic pseudo-random values (matrices and embeddings uniform in
// +-0.02, norm weights and biases 1 +- 0.02), so that a model's speed and memory can be measured from
// its config.json alone. All matrices view one shared buffer and all vectors another, so the host holds
// only the largest tensor's bytes however large the model.

#include <memory>

#include "config/model_config.hpp"
#include "model/weights/weight_source.hpp"

namespace sabre {

std::unique_ptr<WeightSource> make_dummy_weights(const ModelConfig& config);

}  // namespace sabre
