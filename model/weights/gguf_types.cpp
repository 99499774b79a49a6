#include "model/weights/gguf_types.hpp"

#include <fmt/format.h>

namespace sabre {
namespace {

constexpr size_t kSuperBlock = 256;  // QK_K: elements in one K-quant super-block

}  // namespace

std::optional<GgmlBlockLayout> ggml_block_layout(uint32_t raw_type) {
  switch (static_cast<GgmlType>(raw_type)) {
    case GgmlType::f32: return GgmlBlockLayout{1, 4};
    case GgmlType::f16: return GgmlBlockLayout{1, 2};
    case GgmlType::bf16: return GgmlBlockLayout{1, 2};
    case GgmlType::q4_0: return GgmlBlockLayout{32, 2 + 16};
    case GgmlType::q4_1: return GgmlBlockLayout{32, 2 + 2 + 16};
    case GgmlType::q5_0: return GgmlBlockLayout{32, 2 + 4 + 16};
    case GgmlType::q5_1: return GgmlBlockLayout{32, 2 + 2 + 4 + 16};
    case GgmlType::q8_0: return GgmlBlockLayout{32, 2 + 32};
    case GgmlType::q8_1: return GgmlBlockLayout{32, 2 + 2 + 32};
    case GgmlType::q2_k: return GgmlBlockLayout{kSuperBlock, 16 + 64 + 2 + 2};
    case GgmlType::q3_k: return GgmlBlockLayout{kSuperBlock, 32 + 64 + 12 + 2};
    case GgmlType::q4_k: return GgmlBlockLayout{kSuperBlock, 2 + 2 + 12 + 128};
    case GgmlType::q5_k: return GgmlBlockLayout{kSuperBlock, 2 + 2 + 12 + 32 + 128};
    case GgmlType::q6_k: return GgmlBlockLayout{kSuperBlock, 128 + 64 + 16 + 2};
    case GgmlType::q8_k: return GgmlBlockLayout{kSuperBlock, 4 + 256 + 2 * 16};
    case GgmlType::iq4_nl: return GgmlBlockLayout{32, 2 + 16};
    case GgmlType::iq4_xs: return GgmlBlockLayout{kSuperBlock, 2 + 2 + 4 + 128};
  }
  return std::nullopt;
}

std::string ggml_type_name(uint32_t raw_type) {
  switch (static_cast<GgmlType>(raw_type)) {
    case GgmlType::f32: return "F32";
    case GgmlType::f16: return "F16";
    case GgmlType::bf16: return "BF16";
    case GgmlType::q4_0: return "Q4_0";
    case GgmlType::q4_1: return "Q4_1";
    case GgmlType::q5_0: return "Q5_0";
    case GgmlType::q5_1: return "Q5_1";
    case GgmlType::q8_0: return "Q8_0";
    case GgmlType::q8_1: return "Q8_1";
    case GgmlType::q2_k: return "Q2_K";
    case GgmlType::q3_k: return "Q3_K";
    case GgmlType::q4_k: return "Q4_K";
    case GgmlType::q5_k: return "Q5_K";
    case GgmlType::q6_k: return "Q6_K";
    case GgmlType::q8_k: return "Q8_K";
    case GgmlType::iq4_nl: return "IQ4_NL";
    case GgmlType::iq4_xs: return "IQ4_XS";
  }
  return fmt::format("type {}", raw_type);
}

bool ggml_type_dequantizable(uint32_t raw_type) {
  switch (static_cast<GgmlType>(raw_type)) {
    case GgmlType::f32:
    case GgmlType::f16:
    case GgmlType::bf16:
    case GgmlType::q4_0:
    case GgmlType::q4_1:
    case GgmlType::q5_0:
    case GgmlType::q5_1:
    case GgmlType::q8_0:
    case GgmlType::q2_k:
    case GgmlType::q3_k:
    case GgmlType::q4_k:
    case GgmlType::q5_k:
    case GgmlType::q6_k:
    case GgmlType::iq4_nl:
    case GgmlType::iq4_xs:
      return true;
    default:
      return false;
  }
}

std::string gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::uint8: return "uint8";
    case GgufValueType::int8: return "int8";
    case GgufValueType::uint16: return "uint16";
    case GgufValueType::int16: return "int16";
    case GgufValueType::uint32: return "uint32";
    case GgufValueType::int32: return "int32";
    case GgufValueType::float32: return "float32";
    case GgufValueType::boolean: return "bool";
    case GgufValueType::string: return "string";
    case GgufValueType::array: return "array";
    case GgufValueType::uint64: return "uint64";
    case GgufValueType::int64: return "int64";
    case GgufValueType::float64: return "float64";
  }
  return fmt::format("value type {}", static_cast<uint32_t>(type));
}

}  // namespace sabre
