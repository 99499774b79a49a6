#pragma once
// A read-only view of a checkpoint's tensors by Hugging Face name ("model.layers.0.self_attn.q_proj.weight").
// Safetensors files are mmapped and viewed in place; other formats (GGUF) may own converted buffers.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sabre {

enum class DType { f32, f16, bf16 };

std::string_view dtype_name(DType dtype);
size_t dtype_size(DType dtype);

struct TensorView {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;  // exactly product(shape) * dtype_size(dtype) bytes
  std::string origin;                // the file it came from, for error messages
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // nullptr when the checkpoint has no tensor of that name.
  virtual const TensorView* find(std::string_view name) const = 0;
  virtual std::vector<std::string> names() const = 0;
  // A short description for logs and errors ("model.safetensors (3 shards)").
  virtual std::string description() const = 0;
};

// Copies a tensor into fp32, converting from its stored dtype. Throws when the tensor is missing or its
// shape differs from `expected_shape`, naming the file, the tensor and both shapes.
std::vector<float> load_f32(const WeightSource& source, std::string_view name,
                            const std::vector<int64_t>& expected_shape);

}  // namespace sabre
