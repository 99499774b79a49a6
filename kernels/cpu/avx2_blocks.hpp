#pragma once
// AVX2 pieces shared by the CPU kernels that read GGUF's blocks in registers (the exact row-invariant
// kernel and the integer-dot kernel): unpacking a block's packed integers into 32 bytes in element order,
// the one horizontal sum both use, and their prefetch.

#if defined(__AVX2__)
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace sabre::cpu {

// Asks for the cache lines of [begin, end) ahead of their use: a hint, which never faults whatever the
// addresses. The decode kernels walk several weight rows side by side, which the hardware prefetcher
// does not follow.
inline void prefetch_range(uintptr_t begin, uintptr_t end) {
  for (uintptr_t line = begin & ~uintptr_t{63}; line < end; line += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(line), _MM_HINT_T0);
  }
}

// The 16 bytes of nibbles as 32 bytes: elements 0..15 (low nibbles), then 16..31 (high nibbles).
inline __m256i unpack_nibbles(const std::byte* packed) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));
  const __m128i mask = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask), _mm_and_si128(bytes, mask));
}

// Bit j of a 32-bit mask as 0x10 in byte j (the fifth bit of element j in Q5_0 / Q5_1), else 0.
inline __m256i fifth_bits(const std::byte* mask_bytes) {
  uint32_t mask;
  std::memcpy(&mask, mask_bytes, 4);
  // Byte j takes mask byte j / 8, then keeps bit j % 8.
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(mask)),
      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0x0000000000000000));
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

// The fixed reduction tree of 8 float lanes: (lanes 0-3 + lanes 4-7), then pairs, then one.
inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// IQ4_NL's non-linear levels of 32 nibbles (as unpack_nibbles gives them), as int8.
inline __m256i iq4_nl_levels(__m256i nibbles) {
  const __m256i levels = _mm256_broadcastsi128_si256(
      _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
  return _mm256_shuffle_epi8(levels, nibbles);
}

}  // namespace sabre::cpu

#endif
