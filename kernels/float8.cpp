#include "kernels/float8.hpp"

#include <cmath>

namespace sabre {

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

}  // namespace sabre
