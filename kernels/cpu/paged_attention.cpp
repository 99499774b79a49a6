#include "kernels/cpu/paged_attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

// This file needs AVX2 and FMA even when the build targets generic x86-64 (-DSABRE_NATIVE=OFF): the
// functions below are compiled for them, after the standard headers so that no shared inline code is,
// and CpuBackend refuses to start on a CPU without them (cpu_features.hpp).
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#pragma GCC target("avx2,fma,f16c")
#endif
#include <immintrin.h>

// The loops over a tile's queries, keys and chunks carry `#pragma GCC unroll`: fully unrolled, the
// accumulator arrays live in registers (without it g++ kept them on the stack, a store per FMA).
//
// Written with AVX2/FMA intrinsics so that every multiply-add is an explicit FMA: g++ contracts a * b + c
// into an FMA where it likes (-ffp-contract=fast is its default), and a choice that differed between two
// inlined copies of the same arithmetic would break the bit-identity this kernel promises. Apart from
// explicit FMAs the code only multiplies into stores or adds of non-products, which leaves nothing to
// contract.

namespace sabre::cpu {
namespace {

constexpr int64_t kLanes = 8;
constexpr int kMaxTile = 4;  // queries sharing each key and value load (bounded by the 16 ymm registers)
constexpr int64_t kKeyBlock = 64;  // keys per pass of all tiles: 16 KB of one head's keys (head_dim 64)

int64_t padded(int64_t n) { return (n + kLanes - 1) / kLanes * kLanes; }

// The lanes of v summed in one fixed order: halves, then pairs, then the last two.
inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float horizontal_max(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// e^x per lane, within about 2 ulp of expf for x in [-87, 88]; below -87 (and for -inf, the padding of a
// score row) it returns 0. Range reduction x = n ln2 + r with |r| <= ln2/2 (ln2 split in two so that n ln2
// is exact enough), then Cephes' minimax polynomial for e^r and 2^n built in the exponent bits.
inline __m256 exp_ps(__m256 x) {
  const __m256 vanishes = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
  p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  p = _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
  return _mm256_andnot_ps(vanishes, p);
}

// ---- KV element types ----
// How 8 stored elements become 8 fp32 lanes, and whether the slot's scale applies. The fp32 policy's
// loads are plain loads, so fp32 caches compute exactly what they always did.

struct F32Kv {
  using T = float;
  static constexpr bool kScaled = false;
  static __m256 load8(const T* p) { return _mm256_loadu_ps(p); }
  static float load1(const T* p) { return *p; }
};

struct Bf16Kv {
  using T = uint16_t;
  static constexpr bool kScaled = false;
  static __m256 load8(const T* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  static float load1(const T* p) {
    const uint32_t bits = static_cast<uint32_t>(*p) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }
};

struct F16Kv {
  using T = uint16_t;
  static constexpr bool kScaled = false;
  static __m256 load8(const T* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static float load1(const T* p) { return _cvtsh_ss(*p); }
};

struct I8Kv {
  using T = int8_t;
  static constexpr bool kScaled = true;
  static __m256 load8(const T* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static float load1(const T* p) { return static_cast<float>(*p); }
};

// e4m3 (sign, 4 exponent bits biased by 7, 3 mantissa bits) shifted into binary16's fields is the same
// number times 2^-8 (binary16's bias is 15), subnormals included, so F16C widens it and one multiply
// restores the scale. The cache never holds e4m3's NaN (stores saturate at 448).
struct Fp8Kv {
  using T = uint8_t;
  static constexpr bool kScaled = true;
  static __m256 load8(const T* p) {
    const __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    const __m128i half = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x80)), 8),
                                      _mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x7F)), 7));
    return _mm256_mul_ps(_mm256_cvtph_ps(half), _mm256_set1_ps(256.0f));
  }
  static float load1(const T* p) {
    const auto half = static_cast<uint16_t>(((*p & 0x80) << 8) | ((*p & 0x7F) << 7));
    return _cvtsh_ss(half) * 256.0f;
  }
};

// Typed views of a PagedKvHead's arrays.
template <class Kv>
const typename Kv::T* key_row(const PagedKvHead& kv, int64_t position) {
  return static_cast<const typename Kv::T*>(kv.keys) + kv.slot_offset(position);
}
template <class Kv>
const typename Kv::T* value_row(const PagedKvHead& kv, int64_t position) {
  return static_cast<const typename Kv::T*>(kv.values) + kv.slot_offset(position);
}
inline float key_scale(const PagedKvHead& kv, int64_t position) {
  return kv.key_scales[kv.slot_index(position) * kv.scale_stride];
}
inline float value_scale(const PagedKvHead& kv, int64_t position) {
  return kv.value_scales[kv.slot_index(position) * kv.scale_stride];
}

// ---- scores: q . k * scale ----

// NQ queries x NK keys: one FMA chain per (query, key) over head_dim in 8-lane chunks, then the fixed
// horizontal sum, times the key's scale for 8-bit caches (key_scales[n]), times `scale`. A pair's
// arithmetic does not depend on NQ, NK or its place in the tile.
template <class Kv, int NQ, int NK>
inline void dot_tile(const float* const* q, const typename Kv::T* const* k, const float* key_scales, int64_t chunks,
                     float scale, float* const* scores, int64_t j) {
  __m256 acc[NQ][NK];
  #pragma GCC unroll 16
  for (int t = 0; t < NQ; ++t) {
    #pragma GCC unroll 16
    for (int n = 0; n < NK; ++n) acc[t][n] = _mm256_setzero_ps();
  }
  for (int64_t c = 0; c < chunks; ++c) {
    __m256 key[NK];
    #pragma GCC unroll 16
    for (int n = 0; n < NK; ++n) key[n] = Kv::load8(k[n] + c * kLanes);
    #pragma GCC unroll 16
    for (int t = 0; t < NQ; ++t) {
      const __m256 query = _mm256_loadu_ps(q[t] + c * kLanes);
      #pragma GCC unroll 16
      for (int n = 0; n < NK; ++n) acc[t][n] = _mm256_fmadd_ps(query, key[n], acc[t][n]);
    }
  }
  #pragma GCC unroll 16
  for (int t = 0; t < NQ; ++t) {
    #pragma GCC unroll 16
    for (int n = 0; n < NK; ++n) {
      if constexpr (Kv::kScaled) {
        scores[t][j + n] = horizontal_sum(acc[t][n]) * key_scales[n] * scale;
      } else {
        scores[t][j + n] = horizontal_sum(acc[t][n]) * scale;
      }
    }
  }
}

// Keys per dot_tile: enough independent chains to hide the FMA latency without running out of registers
// (NQ * NK accumulators + NK keys + 1 query).
template <int NQ>
constexpr int keys_per_tile() {
  return NQ <= 2 ? 4 : 2;
}

// scores[t][j] for keys from..to-1 of every query in q, walking the block table one run of consecutive
// slots at a time.
template <class Kv, int NQ>
void score_keys(const float* const* q, const PagedKvHead& kv, int64_t from, int64_t to, int64_t chunks, float scale,
                float* const* scores) {
  using T = typename Kv::T;
  constexpr int NK = keys_per_tile<NQ>();
  float scales[NK] = {};
  for (int64_t j = from; j < to;) {
    const int64_t run = std::min(kv.block_size - j % kv.block_size, to - j);
    const T* base = key_row<Kv>(kv, j);
    int64_t s = 0;
    for (; s + NK <= run; s += NK) {
      const T* k[NK];
      #pragma GCC unroll 16
      for (int n = 0; n < NK; ++n) k[n] = base + (s + n) * kv.row_stride;
      if constexpr (Kv::kScaled) {
        for (int n = 0; n < NK; ++n) scales[n] = key_scale(kv, j + s + n);
      }
      dot_tile<Kv, NQ, NK>(q, k, scales, chunks, scale, scores, j + s);
    }
    for (; s < run; ++s) {
      const T* k[1] = {base + s * kv.row_stride};
      if constexpr (Kv::kScaled) scales[0] = key_scale(kv, j + s);
      dot_tile<Kv, NQ, 1>(q, k, scales, chunks, scale, scores, j + s);
    }
    j += run;
  }
}

// ---- softmax ----

// scores[0..visible) -> e^(s - max) in place, padded with zeros to a multiple of 8; returns 1 / sum.
// Not inlined, so every query runs this very code whatever tile it came in.
[[gnu::noinline]] float softmax_in_place(float* scores, int64_t visible) {
  const int64_t end = padded(visible);
  std::fill(scores + visible, scores + end, -std::numeric_limits<float>::infinity());
  __m256 m = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < end; j += kLanes) m = _mm256_max_ps(m, _mm256_loadu_ps(scores + j));
  const __m256 max = _mm256_set1_ps(horizontal_max(m));
  __m256 total = _mm256_setzero_ps();
  for (int64_t j = 0; j < end; j += kLanes) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(scores + j), max));
    _mm256_storeu_ps(scores + j, e);
    total = _mm256_add_ps(total, e);
  }
  return 1.0f / horizontal_sum(total);
}

// ---- weighted sum of values ----

// Output chunks (8 floats each) per pass over the values: NQ * CD accumulators + NQ weights + 1 value.
template <int NQ>
constexpr int chunks_per_pass() {
  return NQ == 1 ? 8 : NQ == 2 ? 4 : 2;
}

// out[t][c0*8 .. (c0+CD)*8) += sum over keys j in [from, to) of p[t][j] v_j, unnormalised: for each query
// and lane one FMA chain over j in order, the keys every query of the tile sees shared, then each query's
// own tail. The running sums live in `out` between key blocks (a store and a load change no bit), so the
// chain of a query is the same however the keys are blocked. `first`: start from zero instead of `out`.
template <class Kv, int NQ, int CD>
void weigh_values_pass(const AttentionQuery* queries, const float* const* p, const PagedKvHead& kv, int64_t from,
                       int64_t to, int64_t c0, bool first) {
  using T = typename Kv::T;
  // A value's weight: its softmax numerator, times the slot's scale for an 8-bit cache.
  const auto weight_of = [&](int t, int64_t j) {
    if constexpr (Kv::kScaled) return p[t][j] * value_scale(kv, j);
    return p[t][j];
  };
  int64_t shared = to;
  #pragma GCC unroll 16
  for (int t = 0; t < NQ; ++t) shared = std::min(shared, queries[t].visible);
  const int64_t offset = c0 * kLanes;
  __m256 acc[NQ][CD];
  #pragma GCC unroll 16
  for (int t = 0; t < NQ; ++t) {
    #pragma GCC unroll 16
    for (int c = 0; c < CD; ++c) {
      acc[t][c] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(queries[t].out + offset + c * kLanes);
    }
  }
  for (int64_t j = from; j < shared;) {
    const int64_t run = std::min(kv.block_size - j % kv.block_size, shared - j);
    const T* base = value_row<Kv>(kv, j) + offset;
    for (int64_t s = 0; s < run; ++s) {
      const T* v = base + s * kv.row_stride;
      __m256 weight[NQ];
      #pragma GCC unroll 16
      for (int t = 0; t < NQ; ++t) weight[t] = _mm256_set1_ps(weight_of(t, j + s));
      #pragma GCC unroll 16
      for (int c = 0; c < CD; ++c) {
        const __m256 value = Kv::load8(v + c * kLanes);
        #pragma GCC unroll 16
        for (int t = 0; t < NQ; ++t) acc[t][c] = _mm256_fmadd_ps(weight[t], value, acc[t][c]);
      }
    }
    j += run;
  }
  #pragma GCC unroll 16
  for (int t = 0; t < NQ; ++t) {
    const int64_t end = std::min(to, queries[t].visible);
    for (int64_t j = std::max(from, shared); j < end; ++j) {
      const T* v = value_row<Kv>(kv, j) + offset;
      const __m256 weight = _mm256_set1_ps(weight_of(t, j));
      #pragma GCC unroll 16
      for (int c = 0; c < CD; ++c) acc[t][c] = _mm256_fmadd_ps(weight, Kv::load8(v + c * kLanes), acc[t][c]);
    }
    #pragma GCC unroll 16
    for (int c = 0; c < CD; ++c) _mm256_storeu_ps(queries[t].out + offset + c * kLanes, acc[t][c]);
  }
}

// ---- one tile of up to kMaxTile queries over one block of keys ----

template <class Kv, int NQ>
void score_block(const AttentionQuery* queries, float* const* scores, const PagedKvHead& kv, int64_t from,
                 int64_t to, int64_t chunks, float scale) {
  const float* q[NQ];
  int64_t shared = to;
  for (int t = 0; t < NQ; ++t) {
    q[t] = queries[t].q;
    shared = std::min(shared, queries[t].visible);
  }
  score_keys<Kv, NQ>(q, kv, from, shared, chunks, scale, scores);
  for (int t = 0; t < NQ; ++t) {
    score_keys<Kv, 1>(&q[t], kv, std::max(from, shared), std::min(to, queries[t].visible), chunks, scale, &scores[t]);
  }
}

template <class Kv, int NQ>
void weigh_block(const AttentionQuery* queries, const float* const* p, const PagedKvHead& kv, int64_t from,
                 int64_t to, int64_t chunks) {
  constexpr int CD = chunks_per_pass<NQ>();
  const bool first = from == 0;
  int64_t c0 = 0;
  for (; c0 + CD <= chunks; c0 += CD) weigh_values_pass<Kv, NQ, CD>(queries, p, kv, from, to, c0, first);
  for (; c0 < chunks; ++c0) weigh_values_pass<Kv, NQ, 1>(queries, p, kv, from, to, c0, first);
}

// Calls body.template operator()<NQ>(first query index) for each tile of up to kMaxTile queries.
template <class Body>
void for_each_tile(int64_t count, Body&& body) {
  for (int64_t t0 = 0; t0 < count; t0 += kMaxTile) {
    switch (std::min<int64_t>(kMaxTile, count - t0)) {
      case 1: body.template operator()<1>(t0); break;
      case 2: body.template operator()<2>(t0); break;
      case 3: body.template operator()<3>(t0); break;
      default: body.template operator()<4>(t0); break;
    }
  }
}

// head_dim not a multiple of 8 (no model in use has one): plain scalar code, one query at a time, which
// is trivially independent of the other queries.
template <class Kv>
void attention_scalar(const AttentionQuery& query, const PagedKvHead& kv, int64_t head_dim, float scale,
                      float* scores) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < query.visible; ++j) {
    const auto* k = key_row<Kv>(kv, j);
    float dot = 0.0f;
    for (int64_t d = 0; d < head_dim; ++d) dot = std::fma(query.q[d], Kv::load1(k + d), dot);
    if constexpr (Kv::kScaled) dot *= key_scale(kv, j);
    scores[j] = dot * scale;
    max = std::max(max, scores[j]);
  }
  float total = 0.0f;
  for (int64_t j = 0; j < query.visible; ++j) {
    scores[j] = std::exp(scores[j] - max);
    total += scores[j];
  }
  const float inv_total = 1.0f / total;
  for (int64_t d = 0; d < head_dim; ++d) {
    float acc = 0.0f;
    for (int64_t j = 0; j < query.visible; ++j) {
      float weight = scores[j];
      if constexpr (Kv::kScaled) weight *= value_scale(kv, j);
      acc = std::fma(weight, Kv::load1(value_row<Kv>(kv, j) + d), acc);
    }
    query.out[d] = acc * inv_total;
  }
}

}  // namespace

int64_t paged_attention_scratch_floats(std::span<const AttentionQuery> queries) {
  int64_t floats = 0;
  for (const AttentionQuery& query : queries) floats += padded(query.visible);
  return floats;
}

namespace {

template <class Kv>
void paged_attention_of(std::span<const AttentionQuery> queries, const PagedKvHead& kv, int64_t head_dim, float scale,
                        float* scratch) {
  const auto count = static_cast<int64_t>(queries.size());
  if (head_dim % kLanes != 0) {
    for (const AttentionQuery& query : queries) attention_scalar<Kv>(query, kv, head_dim, scale, scratch);
    return;
  }
  // Each query's scores get a row of the scratch.
  thread_local std::vector<float*> rows;
  rows.resize(queries.size());
  int64_t longest = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    rows[i] = scratch;
    scratch += padded(queries[i].visible);
    longest = std::max(longest, queries[i].visible);
  }
  const int64_t chunks = head_dim / kLanes;
  const AttentionQuery* all = queries.data();
  // Keys in blocks that stay in L1 while every tile of queries passes over them: without this a long
  // prompt streams the whole context from L3 once per tile.
  for (int64_t from = 0; from < longest; from += kKeyBlock) {
    const int64_t to = std::min(from + kKeyBlock, longest);
    for_each_tile(count, [&]<int NQ>(int64_t t0) {
      score_block<Kv, NQ>(all + t0, rows.data() + t0, kv, from, to, chunks, scale);
    });
  }
  thread_local std::vector<float> inv_total;
  inv_total.resize(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) inv_total[i] = softmax_in_place(rows[i], queries[i].visible);
  for (int64_t from = 0; from < longest; from += kKeyBlock) {
    const int64_t to = std::min(from + kKeyBlock, longest);
    for_each_tile(count, [&]<int NQ>(int64_t t0) {
      weigh_block<Kv, NQ>(all + t0, rows.data() + t0, kv, from, to, chunks);
    });
  }
  for (size_t i = 0; i < queries.size(); ++i) {
    const __m256 norm = _mm256_set1_ps(inv_total[i]);
    for (int64_t c = 0; c < chunks; ++c) {
      float* o = queries[i].out + c * kLanes;
      _mm256_storeu_ps(o, _mm256_mul_ps(_mm256_loadu_ps(o), norm));
    }
  }
}

}  // namespace

void paged_attention(std::span<const AttentionQuery> queries, const PagedKvHead& kv, int64_t head_dim, float scale,
                     float* scratch) {
  switch (kv.type) {
    case ElementType::f32: return paged_attention_of<F32Kv>(queries, kv, head_dim, scale, scratch);
    case ElementType::bf16: return paged_attention_of<Bf16Kv>(queries, kv, head_dim, scale, scratch);
    case ElementType::f16: return paged_attention_of<F16Kv>(queries, kv, head_dim, scale, scratch);
    case ElementType::i8: return paged_attention_of<I8Kv>(queries, kv, head_dim, scale, scratch);
    case ElementType::fp8_e4m3: return paged_attention_of<Fp8Kv>(queries, kv, head_dim, scale, scratch);
    default:
      throw std::invalid_argument("paged_attention: a KV cache of " + std::string(element_type_name(kv.type)));
  }
}

}  // namespace sabre::cpu
