#include "kernels/cpu/kv_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/float16.hpp"
#include "kernels/float8.hpp"

namespace sabre::cpu {

void store_kv_row(ElementType type, const float* x, int64_t n, void* out, float* scale) {
  switch (type) {
    case ElementType::f32:
      std::memcpy(out, x, static_cast<size_t>(n) * sizeof(float));
      return;
    case ElementType::bf16:
    case ElementType::f16: {
      auto* half = static_cast<uint16_t*>(out);
      for (int64_t i = 0; i < n; ++i) half[i] = type == ElementType::bf16 ? f32_to_bf16(x[i]) : f32_to_f16(x[i]);
      return;
    }
    case ElementType::i8:
    case ElementType::fp8_e4m3: {
      float largest = 0.0f;
      for (int64_t i = 0; i < n; ++i) largest = std::max(largest, std::fabs(x[i]));
      const float limit = type == ElementType::i8 ? 127.0f : 448.0f;
      *scale = largest / limit;
      const float inverse = largest > 0.0f ? limit / largest : 0.0f;
      if (type == ElementType::i8) {
        auto* q = static_cast<int8_t*>(out);
        for (int64_t i = 0; i < n; ++i) {
          q[i] = static_cast<int8_t>(std::clamp(std::nearbyint(x[i] * inverse), -127.0f, 127.0f));
        }
      } else {
        auto* q = static_cast<uint8_t*>(out);
        for (int64_t i = 0; i < n; ++i) q[i] = float_to_e4m3(x[i] * inverse);
      }
      return;
    }
    default:
      throw std::invalid_argument(fmt::format("store_kv_row: a KV cache of {}", element_type_name(type)));
  }
}

}  // namespace sabre::cpu
