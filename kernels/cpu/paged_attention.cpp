#include "kernels/cpu/paged_attention.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

// Written with AVX2/FMA intrinsics so that every multiply-add is an explicit FMA: g++ contracts a * b + c
// into an FMA where it likes (-ffp-contract=fast is its default), and a choice that differed between two
// inlined copies of the same arithmetic would break the bit-identity this kernel promises. Apart from
// explicit FMAs the code only multiplies into stores or adds of non-products, which leaves nothing to
// contract.

namespace sabre::cpu {
namespace {

constexpr int64_t kLanes = 8;
constexpr int kMaxTile = 4;  // queries sharing each key and value load (bounded by the 16 ymm registers)

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
  for (int t = 0; t < NQ; ++t) {
    for (int n = 0; n < NK; ++n) acc[t][n] = _mm256_setzero_ps();
  }
  for (int64_t c = 0; c < chunks; ++c) {
    __m256 key[NK];
    for (int n = 0; n < NK; ++n) key[n] = _mm256_loadu_ps(k[n] + c * kLanes);
    for (int t = 0; t < NQ; ++t) {
      const __m256 query = _mm256_loadu_ps(q[t] + c * kLanes);
      for (int n = 0; n < NK; ++n) acc[t][n] = _mm256_fmadd_ps(query, key[n], acc[t][n]);
    }
  }
  for (int t = 0; t < NQ; ++t) {
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

// out[t][c0*8 .. (c0+CD)*8) = sum_j p[t][j] v_j * inv_total[t]: for each query and lane one FMA chain over
// j = 0, 1, ... in order, the keys every query sees shared (j < shared), then each query's own tail.
template <int NQ, int CD>
void weigh_values_pass(const AttentionQuery* queries, const float* const* p, const float* inv_total,
                       const PagedKvHead& kv, int64_t shared, int64_t c0) {
  __m256 acc[NQ][CD];
  for (int t = 0; t < NQ; ++t) {
    for (int c = 0; c < CD; ++c) acc[t][c] = _mm256_setzero_ps();
  }
  const int64_t offset = c0 * kLanes;
  for (int64_t j = 0; j < shared;) {
    const int64_t run = std::min(kv.block_size - j % kv.block_size, shared - j);
    const float* base = kv.value(j) + offset;
    for (int64_t s = 0; s < run; ++s) {
      const float* v = base + s * kv.row_stride;
      __m256 weight[NQ];
      for (int t = 0; t < NQ; ++t) weight[t] = _mm256_broadcast_ss(p[t] + j + s);
      for (int c = 0; c < CD; ++c) {
        const __m256 value = _mm256_loadu_ps(v + c * kLanes);
        for (int t = 0; t < NQ; ++t) acc[t][c] = _mm256_fmadd_ps(weight[t], value, acc[t][c]);
      }
    }
    j += run;
  }
  for (int t = 0; t < NQ; ++t) {
    for (int64_t j = shared; j < queries[t].visible; ++j) {
      const float* v = kv.value(j) + offset;
      const __m256 weight = _mm256_broadcast_ss(p[t] + j);
      for (int c = 0; c < CD; ++c) acc[t][c] = _mm256_fmadd_ps(weight, _mm256_loadu_ps(v + c * kLanes), acc[t][c]);
    }
    const __m256 scale = _mm256_set1_ps(inv_total[t]);
    for (int c = 0; c < CD; ++c) _mm256_storeu_ps(queries[t].out + offset + c * kLanes, _mm256_mul_ps(acc[t][c], scale));
  }
}

template <int NQ>
void weigh_values(const AttentionQuery* queries, const float* const* p, const float* inv_total,
                  const PagedKvHead& kv, int64_t shared, int64_t chunks) {
  constexpr int CD = chunks_per_pass<NQ>();
  int64_t c0 = 0;
  for (; c0 + CD <= chunks; c0 += CD) weigh_values_pass<NQ, CD>(queries, p, inv_total, kv, shared, c0);
  for (; c0 < chunks; ++c0) weigh_values_pass<NQ, 1>(queries, p, inv_total, kv, shared, c0);
}

// ---- one tile of up to kMaxTile queries ----

template <int NQ>
void attention_tile(const AttentionQuery* queries, const PagedKvHead& kv, int64_t head_dim, float scale,
                    float* scratch) {
  int64_t shared = queries[0].visible, longest = queries[0].visible;
  for (int t = 1; t < NQ; ++t) {
    shared = std::min(shared, queries[t].visible);
    longest = std::max(longest, queries[t].visible);
  }
  const int64_t chunks = head_dim / kLanes;
  const int64_t row = padded(longest);
  const float* q[NQ];
  float* scores[NQ];
  for (int t = 0; t < NQ; ++t) {
    q[t] = queries[t].q;
    scores[t] = scratch + t * row;
  }
  score_keys<NQ>(q, kv, 0, shared, chunks, scale, scores);
  for (int t = 0; t < NQ; ++t) score_keys<1>(&q[t], kv, shared, queries[t].visible, chunks, scale, &scores[t]);
  float inv_total[NQ];
  for (int t = 0; t < NQ; ++t) inv_total[t] = softmax_in_place(scores[t], queries[t].visible);
  weigh_values<NQ>(queries, scores, inv_total, kv, shared, chunks);
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

int64_t paged_attention_scratch_floats(int64_t max_visible) { return kMaxTile * padded(max_visible); }

void paged_attention(std::span<const AttentionQuery> queries, const PagedKvHead& kv, int64_t head_dim, float scale,
                     float* scratch) {
  const auto count = static_cast<int64_t>(queries.size());
  if (head_dim % kLanes != 0) {
    for (const AttentionQuery& query : queries) attention_scalar(query, kv, head_dim, scale, scratch);
    return;
  }
  for (int64_t t0 = 0; t0 < count; t0 += kMaxTile) {
    const AttentionQuery* tile = queries.data() + t0;
    switch (std::min<int64_t>(kMaxTile, count - t0)) {
      case 1: attention_tile<1>(tile, kv, head_dim, scale, scratch); break;
      case 2: attention_tile<2>(tile, kv, head_dim, scale, scratch); break;
      case 3: attention_tile<3>(tile, kv, head_dim, scale, scratch); break;
      default: attention_tile<4>(tile, kv, head_dim, scale, scratch); break;
    }
  }
}

void gather_kv_head(const PagedKvHead& kv, int64_t tokens, int64_t head_dim, float* k, float* v) {
  const size_t bytes = static_cast<size_t>(head_dim) * sizeof(float);
  for (int64_t j = 0; j < tokens;) {
    const int64_t run = std::min(kv.block_size - j % kv.block_size, tokens - j);
    const float* keys = kv.key(j);
    const float* values = kv.value(j);
    for (int64_t s = 0; s < run; ++s) {
      std::memcpy(k + (j + s) * head_dim, keys + s * kv.row_stride, bytes);
      std::memcpy(v + (j + s) * head_dim, values + s * kv.row_stride, bytes);
    }
    j += run;
  }
}

}  // namespace sabre::cpu
