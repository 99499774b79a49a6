#pragma once
// A read-only view of a checkpoint's tensors by Hugging Face name ("model.layers.0.self_attn.q_proj.weight").
// Files are mmapped and their tensors viewed in place, in the type they are stored in; nothing is
// converted until the model is loaded from them (load_f32, or the loader taking the stored bytes as
// they are).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/element_type.hpp"

namespace sabre {

// How a tensor is stored. f32 / f16 / bf16: plain floats (safetensors, GGUF); q8_0 / q4_1: GGUF's blocks
// of 32; gguf: any other GGUF type (TensorView::ggml_type names it). i8, u8, i32, i64, f8_e4m3: the raw
// parts of a quantised safetensors checkpoint (packed integers, zero points, FP8 codes), which only its
// repacking reads (model/weights/quantized_source.hpp); packed: the blocks that repacking makes, of
// TensorView::packed_type.
enum class DType { f32, f16, bf16, q8_0, q4_1, gguf, i8, u8, i32, i64, f8_e4m3, packed };

// "F32", "F16", "BF16", "I8", "U8", "I32", "I64", "F8_E4M3" (safetensors' spellings), "Q8_0", "Q4_1",
// "GGUF", "PACKED".
std::string_view dtype_name(DType dtype);
// Bytes per element of a plain type (0 for the block types).
size_t dtype_size(DType dtype);

struct TensorView {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  // The stored bytes: product(shape) elements of dtype (whole blocks along each row for the block types).
  std::span<const std::byte> bytes;
  std::string origin;     // the file it came from, for error messages
  uint32_t ggml_type = 0;  // dtype gguf: the GGUF type number (a GgmlType value)
  // dtype packed: the block type, and the input column each stored column holds when the repacking
  // reordered them (GPTQ's act-order groups made contiguous); empty when they are in order.
  ElementType packed_type = ElementType::f32;
  std::vector<int32_t> input_order;
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;
  // nullptr when the checkpoint has no tensor of that name.
  virtual const TensorView* find(std::string_view name) const = 0;
  virtual std::vector<std::string> names() const = 0;
  // A short description for logs and errors ("model.safetensors (3 shards)").
  virtual std::string description() const = 0;
  // The loader is done with tensor `name` (it has copied or converted it): a mapped source lets the OS
  // take its pages back, so that the file and the loaded copy are not resident at once. The view stays
  // valid (reading it faults the pages back in).
  virtual void drop_pages(std::string_view name) const { (void)name; }
};

// Copies a tensor into fp32, converting (dequantising) from its stored dtype. Throws when the tensor is
// missing, its shape differs from `expected_shape` or its type cannot be dequantised, naming the file,
// the tensor and what was expected.
std::vector<float> load_f32(const WeightSource& source, std::string_view name,
                            const std::vector<int64_t>& expected_shape);

}  // namespace sabre
