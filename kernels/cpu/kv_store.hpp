#pragma once
// Writing keys and values into a CPU KV cache of any element type: fp32 as it is, bf16 and f16 rounded to
// nearest even, int8 and fp8 (e4m3) scaled per slot and kv head by the row's largest magnitude so that it
// maps onto the type's largest value (127, 448), then rounded to nearest even. paged_attention.hpp reads
// them back.

#include <cstdint>

#include "kernels/element_type.hpp"

namespace sabre::cpu {

// One kv head's `n` values from `x` into `out` (n elements of `type`); for int8 and fp8 `*scale` receives
// the factor that turns the stored numbers back into values (0 for an all-zero row).
void store_kv_row(ElementType type, const float* x, int64_t n, void* out, float* scale);

// Whether a KV cache of `type` keeps a scale per slot and kv head.
inline bool kv_type_is_scaled(ElementType type) { return type == ElementType::i8 || type == ElementType::fp8_e4m3; }

}  // namespace sabre::cpu
