// Element types of stored tensors and their conversion to fp32, the precision the CPU backend computes in.

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

#include "kernels/quant_blocks.hpp"
#include "model/weights/dtype_convert.hpp"
#include "model/weights/gguf_dequant.hpp"
#include "model/weights/gguf_types.hpp"
#include "model/weights/weight_source.hpp"

namespace sabre {

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::q8_0: return "Q8_0";
    case DType::q4_1: return "Q4_1";
    case DType::gguf: return "GGUF";
    case DType::i8: return "I8";
    case DType::u8: return "U8";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
    case DType::f8_e4m3: return "F8_E4M3";
    case DType::packed: return "PACKED";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f16: return 2;
    case DType::bf16: return 2;
    case DType::i8:
    case DType::u8:
    case DType::f8_e4m3: return 1;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::q8_0:
    case DType::q4_1:
    case DType::gguf:
    case DType::packed: return 0;
  }
  return 0;
}


void convert_to_f32(DType dtype, std::span<const std::byte> bytes, std::span<float> out) {
  const size_t count = out.size();
  if (bytes.size() != count * dtype_size(dtype)) {
    throw std::logic_error(fmt::format("convert_to_f32: {} bytes of {} for {} values", bytes.size(),
                                       dtype_name(dtype), count));
  }
  switch (dtype) {
    case DType::q8_0:
    case DType::q4_1:
    case DType::gguf:
    case DType::packed:
      throw std::logic_error(fmt::format("convert_to_f32: {} is a block type (load_f32 dequantises it)",
                                         dtype_name(dtype)));
    case DType::i8:
    case DType::u8:
    case DType::i32:
    case DType::i64:
    case DType::f8_e4m3:
      throw std::logic_error(fmt::format("convert_to_f32: {} is a quantised checkpoint's raw part", dtype_name(dtype)));
    case DType::f32:
      std::memcpy(out.data(), bytes.data(), bytes.size());  // the mapping may be unaligned
      return;
    case DType::bf16:
    case DType::f16: {
      const bool is_bf16 = dtype == DType::bf16;
      for (size_t i = 0; i < count; ++i) {
        uint16_t bits;
        std::memcpy(&bits, bytes.data() + 2 * i, 2);
        out[i] = is_bf16 ? bf16_to_f32(bits) : f16_to_f32(bits);
      }
      return;
    }
  }
}

namespace {

bool is_quantized_part(DType dtype) {
  return dtype == DType::i8 || dtype == DType::u8 || dtype == DType::i32 || dtype == DType::i64 ||
         dtype == DType::f8_e4m3;
}

// A repacked tensor's blocks to fp32, each value put back in its input column.
void dequantize_packed(const TensorView& tensor, std::span<float> out) {
  const int64_t columns = tensor.shape.back();
  const int64_t rows = static_cast<int64_t>(out.size()) / columns;
  const int64_t blocks = static_cast<int64_t>(out.size()) / element_block_size(tensor.packed_type);
  dequantize_blocks(tensor.packed_type, tensor.bytes.data(), blocks, out.data());
  if (tensor.input_order.empty()) return;
  std::vector<float> row(static_cast<size_t>(columns));
  for (int64_t r = 0; r < rows; ++r) {
    float* values = out.data() + r * columns;
    for (int64_t j = 0; j < columns; ++j) row[static_cast<size_t>(tensor.input_order[static_cast<size_t>(j)])] = values[j];
    std::copy(row.begin(), row.end(), values);
  }
}

}  // namespace

std::vector<float> load_f32(const WeightSource& source, std::string_view name,
                            const std::vector<int64_t>& expected_shape) {
  const TensorView* tensor = source.find(name);
  if (tensor == nullptr) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' is missing (expected shape [{}])",
                                         source.description(), name, fmt::join(expected_shape, ", ")));
  }
  if (tensor->shape != expected_shape) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' has shape [{}], expected [{}]", tensor->origin, name,
                                         fmt::join(tensor->shape, ", "), fmt::join(expected_shape, ", ")));
  }
  size_t count = 1;
  for (int64_t d : tensor->shape) count *= static_cast<size_t>(d);
  std::vector<float> values(count);
  if (tensor->dtype == DType::packed) {
    dequantize_packed(*tensor, values);
    return values;
  }
  if (is_quantized_part(tensor->dtype)) {
    throw std::runtime_error(fmt::format(
        "{}: tensor '{}' is stored as {}, a part of a quantised checkpoint that is read through its "
        "quantization_config (config.json says none)",
        tensor->origin, name, dtype_name(tensor->dtype)));
  }
  if (dtype_size(tensor->dtype) != 0) {
    convert_to_f32(tensor->dtype, tensor->bytes, values);
    return values;
  }
  const uint32_t type = tensor->dtype == DType::q8_0   ? static_cast<uint32_t>(GgmlType::q8_0)
                        : tensor->dtype == DType::q4_1 ? static_cast<uint32_t>(GgmlType::q4_1)
                                                       : tensor->ggml_type;
  if (!ggml_type_dequantizable(type)) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' has type {}, which Sabre cannot dequantise", tensor->origin,
                                         name, ggml_type_name(type)));
  }
  dequantize_ggml(static_cast<GgmlType>(type), tensor->bytes, values);
  return values;
}

}  // namespace sabre
