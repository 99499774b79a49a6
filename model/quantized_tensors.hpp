#pragma once
// Weights a checkpoint can also offer in a packed, quantised form (GGUF's Q8_0 / Q4_1 blocks, as in the
// file), next to the fp32 view every WeightSource gives. load_model_weights asks for this form for the
// matrices of linear layers, so the backend can multiply with the blocks directly; a source without it
// (safetensors) is used in fp32.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "kernels/backend.hpp"

namespace sabre {

struct QuantizedTensor {
  ElementType format = ElementType::f32;
  std::vector<int64_t> shape;     // Hugging Face order: [out_features, in_features]
  std::vector<std::byte> blocks;  // shape[0] rows of shape[1] / 32 blocks each, rows already in HF order
};

class QuantizedTensorSource {
 public:
  virtual ~QuantizedTensorSource() = default;
  // nullptr when the tensor is not kept quantised (missing, or stored in another type).
  virtual const QuantizedTensor* find_quantized(std::string_view name) const = 0;
};

}  // namespace sabre
