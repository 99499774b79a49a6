#include "kernels/cpu/paged_attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

// This file needs AVX2 and FMA even when the build targets generic x86-64 (-DSABRE_NATIVE=OFF): the
// functions below are compiled for them, after the standard headers so that no shared inline code is,
// and CpuBackend refuses to start on a CPU without them (cpu_features.hpp).
#if !defined(__AVX2__) || !defined(__FMA__)
#pragma GCC target("avx2,fma")
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

// ---- scores: q . k * scale ----

// NQ queries x NK keys: one FMA chain per (query, key) over head_dim in 8-lane chunks, then the fixed
// horizontal sum. A pair's arithmetic does not depend on NQ, NK or its place in the tile.
template <int NQ, int NK>
inline void dot_tile(const float* const* q, const float* const* k, int64_t chunks, float scale, float* const* scores,
                     int64_t j) {
  __m256 acc[NQ][NK];
  #pragma GCC unroll 16
  for (int t = 0; t < NQ; ++t) {
    #pragma GCC unroll 16
    for (int n = 0; n < NK; ++n) acc[t][n] = _mm256_setzero_ps();
  }
  for (int64_t c = 0; c < chunks; ++c) {
    __m256 key[NK];
    #pragma GCC unroll 16
    for (int n = 0; n < NK; ++n) key[n] = _mm256_loadu_ps(k[n] + c * kLanes);
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
    for (int n = 0; n < NK; ++n) scores[t][j + n] = horizontal_sum(acc[t][n]) * scale;
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
template <int NQ>
void score_keys(const float* const* q, const PagedKvHead& kv, int64_t from, int64_t to, int64_t chunks, float scale,
                float* const* scores) {
  constexpr int NK = keys_per_tile<NQ>();
  for (int64_t j = from; j < to;) {
    const int64_t run = std::min(kv.block_size - j % kv.block_size, to - j);
    const float* base = kv.key(j);
    int64_t s = 0;
    for (; s + NK <= run; s += NK) {
      const float* k[NK];
      #pragma GCC unroll 16
      for (int n = 0; n < NK; ++n) k[n] = base + (s + n) * kv.row_stride;
      dot_tile<NQ, NK>(q, k, chunks, scale, scores, j + s);
    }
    for (; s < run; ++s) {
      const float* k[1] = {base + s * kv.row_stride};
      dot_tile<NQ, 1>(q, k, chunks, scale, scores, j + s);
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
template <int NQ, int CD>
void weigh_values_pass(const AttentionQuery* queries, const float* const* p, const PagedKvHead& kv, int64_t from,
                       int64_t to, int64_t c0, bool first) {
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
    const float* base = kv.value(j) + offset;
    for (int64_t s = 0; s < run; ++s) {
      const float* v = base + s * kv.row_stride;
      __m256 weight[NQ];
      #pragma GCC unroll 16
      for (int t = 0; t < NQ; ++t) weight[t] = _mm256_broadcast_ss(p[t] + j + s);
      #pragma GCC unroll 16
      for (int c = 0; c < CD; ++c) {
        const __m256 value = _mm256_loadu_ps(v + c * kLanes);
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
      const float* v = kv.value(j) + offset;
      const __m256 weight = _mm256_broadcast_ss(p[t] + j);
      #pragma GCC unroll 16
      for (int c = 0; c < CD; ++c) acc[t][c] = _mm256_fmadd_ps(weight, _mm256_loadu_ps(v + c * kLanes), acc[t][c]);
    }
    #pragma GCC unroll 16
    for (int c = 0; c < CD; ++c) _mm256_storeu_ps(queries[t].out + offset + c * kLanes, acc[t][c]);
  }
}

// ---- one tile of up to kMaxTile queries over one block of keys ----

template <int NQ>
void score_block(const AttentionQuery* queries, float* const* scores, const PagedKvHead& kv, int64_t from,
                 int64_t to, int64_t chunks, float scale) {
  const float* q[NQ];
  int64_t shared = to;
  for (int t = 0; t < NQ; ++t) {
    q[t] = queries[t].q;
    shared = std::min(shared, queries[t].visible);
  }
  score_keys<NQ>(q, kv, from, shared, chunks, scale, scores);
  for (int t = 0; t < NQ; ++t) {
    score_keys<1>(&q[t], kv, std::max(from, shared), std::min(to, queries[t].visible), chunks, scale, &scores[t]);
  }
}

template <int NQ>
void weigh_block(const AttentionQuery* queries, const float* const* p, const PagedKvHead& kv, int64_t from,
                 int64_t to, int64_t chunks) {
  constexpr int CD = chunks_per_pass<NQ>();
  const bool first = from == 0;
  int64_t c0 = 0;
  for (; c0 + CD <= chunks; c0 += CD) weigh_values_pass<NQ, CD>(queries, p, kv, from, to, c0, first);
  for (; c0 < chunks; ++c0) weigh_values_pass<NQ, 1>(queries, p, kv, from, to, c0, first);
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
void attention_scalar(const AttentionQuery& query, const PagedKvHead& kv, int64_t head_dim, float scale,
                      float* scores) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < query.visible; ++j) {
    const float* k = kv.key(j);
    float dot = 0.0f;
    for (int64_t d = 0; d < head_dim; ++d) dot = std::fma(query.q[d], k[d], dot);
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
    for (int64_t j = 0; j < query.visible; ++j) acc = std::fma(scores[j], kv.value(j)[d], acc);
    query.out[d] = acc * inv_total;
  }
}

}  // namespace

int64_t paged_attention_scratch_floats(std::span<const AttentionQuery> queries) {
  int64_t floats = 0;
  for (const AttentionQuery& query : queries) floats += padded(query.visible);
  return floats;
}

void paged_attention(std::span<const AttentionQuery> queries, const PagedKvHead& kv, int64_t head_dim, float scale,
                     float* scratch) {
  const auto count = static_cast<int64_t>(queries.size());
  if (head_dim % kLanes != 0) {
    for (const AttentionQuery& query : queries) attention_scalar(query, kv, head_dim, scale, scratch);
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
      score_block<NQ>(all + t0, rows.data() + t0, kv, from, to, chunks, scale);
    });
  }
  thread_local std::vector<float> inv_total;
  inv_total.resize(queries.size());
  for (size_t i = 0; i < queries.size(); ++i) inv_total[i] = softmax_in_place(rows[i], queries[i].visible);
  for (int64_t from = 0; from < longest; from += kKeyBlock) {
    const int64_t to = std::min(from + kKeyBlock, longest);
    for_each_tile(count, [&]<int NQ>(int64_t t0) {
      weigh_block<NQ>(all + t0, rows.data() + t0, kv, from, to, chunks);
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

}  // namespace sabre::cpu
