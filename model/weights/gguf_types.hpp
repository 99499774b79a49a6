#pragma once
// The ggml tensor types a GGUF file may store, their block geometry, and the GGUF metadata value types.
// Numbers are the on-disk enum values of the GGUF specification (ggml.h / gguf.h).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sabre {

enum class GgmlType : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  iq4_nl = 20,
  iq4_xs = 23,
  bf16 = 30,
};

// Elements per block and bytes per block; a tensor row holds a whole number of blocks.
struct GgmlBlockLayout {
  size_t elements_per_block;
  size_t bytes_per_block;
};

// The layout of a type this reader understands, or nullopt for a value it does not know (the IQ types
// other than IQ4_NL / IQ4_XS, removed types, garbage).
std::optional<GgmlBlockLayout> ggml_block_layout(uint32_t raw_type);
// "Q4_1", "F32", ... or "type 23" for an unknown value.
std::string ggml_type_name(uint32_t raw_type);
// Whether dequantize_ggml() can convert this type to fp32.
bool ggml_type_dequantizable(uint32_t raw_type);

enum class GgufValueType : uint32_t {
  uint8 = 0,
  int8 = 1,
  uint16 = 2,
  int16 = 3,
  uint32 = 4,
  int32 = 5,
  float32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  uint64 = 10,
  int64 = 11,
  float64 = 12,
};

std::string gguf_value_type_name(GgufValueType type);

}  // namespace sabre
