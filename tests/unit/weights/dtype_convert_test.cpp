// The narrowing conversions the weight loader uses for --dtype: f32 -> binary16 against the F16C
// instruction (round to nearest even, subnormals, overflow, NaN) over a sweep of bit patterns, and
// f32 -> bf16 on hand-worked ties and specials.

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <immintrin.h>

#include "model/weights/dtype_convert.hpp"

using namespace sabre;

TEST_CASE("f32_to_f16 rounds as the F16C instruction does", "[weights][dtype]") {
  std::mt19937 rng(7);
  int64_t mismatches = 0;
  auto check = [&](uint32_t bits) {
    const float x = std::bit_cast<float>(bits);
    const uint16_t want = _cvtss_sh(x, _MM_FROUND_TO_NEAREST_INT);
    const uint16_t got = f32_to_f16(x);
    // NaN payloads may differ; both must be NaN.
    if (std::isnan(x)) {
      mismatches += !((got & 0x7C00u) == 0x7C00u && (got & 0x3FFu) != 0);
    } else {
      mismatches += got != want;
    }
  };
  for (int i = 0; i < 2000000; ++i) check(rng());
  // Every exponent around binary16's range, with mantissas at and near the rounding ties.
  for (uint32_t exponent = 100; exponent < 145; ++exponent) {
    for (uint32_t low : {0u, 1u, 0xFFFu, 0x1000u, 0x1001u, 0x2000u, 0x3000u, 0x7FFFFFu, 0x400000u, 0x400001u}) {
      check((exponent << 23) | low);
      check(0x80000000u | (exponent << 23) | low);
    }
  }
  CHECK(mismatches == 0);
  CHECK(f32_to_f16(65504.0f) == 0x7BFF);
  CHECK(f32_to_f16(65520.0f) == 0x7C00);  // the first value that rounds to inf
  CHECK(f32_to_f16(std::ldexp(1.0f, -25)) == 0);  // exactly half the smallest subnormal: ties to even (0)
  CHECK(f32_to_f16(std::ldexp(1.5f, -25)) == 1);
}

TEST_CASE("f32_to_bf16 rounds to nearest even and keeps specials", "[weights][dtype]") {
  CHECK(f32_to_bf16(1.0f) == 0x3F80);
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3F808000u)) == 0x3F80);  // a tie, even below
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3F818000u)) == 0x3F82);  // a tie, even above
  CHECK(f32_to_bf16(std::bit_cast<float>(0x3F808001u)) == 0x3F81);
  CHECK(f32_to_bf16(-std::numeric_limits<float>::infinity()) == 0xFF80);
  CHECK(f32_to_bf16(std::bit_cast<float>(0x7F7FFFFFu)) == 0x7F80);  // the largest float rounds to inf
  const uint16_t nan = f32_to_bf16(std::numeric_limits<float>::quiet_NaN());
  CHECK(std::isnan(bf16_to_f32(nan)));
  for (uint32_t h = 0; h < 0x10000u; h += 7) {
    const float x = bf16_to_f32(static_cast<uint16_t>(h));
    if (!std::isnan(x)) REQUIRE(f32_to_bf16(x) == h);  // every bf16 value converts back to itself
  }
}
