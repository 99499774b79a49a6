#include "kernels/cpu/kv_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "kernels/float16.hpp"

namespace sabre::cpu {

uint8_t float_to_e4m3(float value) {
  if (std::isnan(value)) return 0x7F;
  const uint8_t sign = std::signbit(value) ? 0x80 : 0x00;
  const float a = std::fabs(value);
  if (a >= 448.0f) return sign | 0x7E;  // saturate: the largest finite number
  if (a == 0.0f) return sign;
  int exponent = 0;
  const float fraction = std::frexp(a, &exponent);  // a = fraction * 2^exponent, fraction in [0.5, 1)
  int biased = exponent - 1 + 7;                    // e4m3's exponent field for a = 1.m * 2^(exponent - 1)
  if (biased < 1) {
    // Subnormal: a multiple of 2^-9, rounded to nearest even (8 of them is the smallest normal).
    const auto m = static_cast<int>(std::nearbyint(a * 512.0f));
    return sign | static_cast<uint8_t>(m);  // m == 8 is exactly the smallest normal's bits (0x08)
  }
  auto mantissa = static_cast<int>(std::nearbyint((fraction * 2.0f - 1.0f) * 8.0f));
  if (mantissa == 8) {
    mantissa = 0;
    ++biased;
  }
  if (biased > 15 || (biased == 15 && mantissa > 6)) return sign | 0x7E;
  return sign | static_cast<uint8_t>((biased << 3) | mantissa);
}

float e4m3_to_float(uint8_t bits) {
  const int biased = (bits >> 3) & 0x0F;
  const int mantissa = bits & 0x07;
  if (biased == 15 && mantissa == 7) return std::nanf("");
  const float magnitude = biased == 0 ? std::ldexp(static_cast<float>(mantissa), -9)
                                      : std::ldexp(1.0f + static_cast<float>(mantissa) / 8.0f, biased - 7);
  return (bits & 0x80) ? -magnitude : magnitude;
}

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
