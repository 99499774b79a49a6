// The paged KV cache on the GPU: storing a step's keys and values in the cache's type, paged attention
// over the step's work list (attention_plan.hpp), the merge of split decodes, and block copies.
//
// Cache layout per layer: [block][kv head][slot][head_dim] elements, so one kv head's keys of a block
// are one contiguous run; the 8-bit types add a float scale per [block][kv head][slot] (the encoding of
// kernels/cpu/kv_store.hpp: the slot's largest magnitude maps onto 127 or 448).
//
// Attention: a block of 4 warps serves one AttentionItem for one kv head (or one group of its query
// heads). Its queries (rows x heads) sit in shared memory; keys and values stream through shared memory
// 32 at a time, converted to fp32; each warp owns some queries, a lane owns a key for the scores and
// some dimensions for the output; softmax is online (running max and sum, base 2).

#include <cfloat>

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/launch.hpp"

namespace sabre::cuda {
namespace {

// ---- the cache's element types ----
template <class C>
struct KvCode;
template <>
struct KvCode<float> {
  static constexpr bool scaled = false;
  __device__ static float load(const float* p, int64_t i) { return p[i]; }
};
template <>
struct KvCode<__nv_bfloat16> {
  static constexpr bool scaled = false;
  __device__ static float load(const __nv_bfloat16* p, int64_t i) { return __bfloat162float(p[i]); }
};
template <>
struct KvCode<__half> {
  static constexpr bool scaled = false;
  __device__ static float load(const __half* p, int64_t i) { return __half2float(p[i]); }
};
template <>
struct KvCode<int8_t> {
  static constexpr bool scaled = true;
  static constexpr float limit = 127.0f;
  __device__ static float load(const int8_t* p, int64_t i) { return static_cast<float>(p[i]); }
  __device__ static int8_t encode(float v) { return static_cast<int8_t>(fminf(fmaxf(rintf(v), -127.0f), 127.0f)); }
};
struct Fp8E4m3 {
  uint8_t bits;
};
template <>
struct KvCode<Fp8E4m3> {
  static constexpr bool scaled = true;
  static constexpr float limit = 448.0f;
  __device__ static float load(const Fp8E4m3* p, int64_t i) { return e4m3_to_float(p[i].bits); }
  __device__ static Fp8E4m3 encode(float v) { return Fp8E4m3{float_to_e4m3(v)}; }
};

template <class F>
void dispatch_kv_type(ElementType type, F&& f) {
  switch (type) {
    case ElementType::f32: f(float{}); return;
    case ElementType::bf16: f(__nv_bfloat16{}); return;
    case ElementType::f16: f(__half{}); return;
    case ElementType::i8: f(int8_t{}); return;
    case ElementType::fp8_e4m3: f(Fp8E4m3{}); return;
    default:
      throw std::invalid_argument("the CUDA backend keeps no KV cache of " + std::string(element_type_name(type)));
  }
}

// ---- store ----
// One warp per (row, kv head, keys or values).
template <class T, class C>
__global__ void store_kv_kernel(DeviceStep step, const T* x, int64_t k_offset, int64_t v_offset, int64_t row_stride,
                                C* keys, C* values, float* key_scales, float* value_scales, int64_t kv_heads,
                                int64_t head_dim, int64_t block_size) {
  const int64_t r = blockIdx.x, h = blockIdx.y;
  const bool is_value = blockIdx.z == 1;
  const int32_t slot = step.slot_mapping[r];
  if (slot < 0) return;  // a padding row
  const int64_t block = slot / block_size, within = slot % block_size;
  const int64_t place = (block * kv_heads + h) * block_size + within;
  const T* from = x + r * row_stride + (is_value ? v_offset : k_offset) + h * head_dim;
  C* to = (is_value ? values : keys) + place * head_dim;
  if constexpr (KvCode<C>::scaled) {
    float largest = 0.0f;
    for (int64_t i = threadIdx.x; i < head_dim; i += 32) largest = fmaxf(largest, fabsf(to_float(from[i])));
    largest = warp_max(largest);
    const float inverse = largest > 0.0f ? KvCode<C>::limit / largest : 0.0f;
    for (int64_t i = threadIdx.x; i < head_dim; i += 32) to[i] = KvCode<C>::encode(to_float(from[i]) * inverse);
    if (threadIdx.x == 0) (is_value ? value_scales : key_scales)[place] = largest / KvCode<C>::limit;
  } else {
    for (int64_t i = threadIdx.x; i < head_dim; i += 32) to[i] = from_float<C>(to_float(from[i]));
  }
}

// ---- attention ----
constexpr int kWarps = 4;
constexpr int kKeys = 32;  // keys per chunk: one per lane

struct AttentionParams {
  DeviceStep step;
  const void* x;
  int64_t q_offset;
  int64_t row_stride;
  int32_t q_heads;
  int32_t kv_heads;
  int32_t group;            // q heads per kv head
  int32_t heads_per_block;  // of the group, per block
  int32_t head_groups;      // blocks per kv head
  int32_t head_dim;
  int32_t block_size;
  float scale_log2;  // softmax scale * log2(e): scores in base-2 units
  const void* keys;
  const void* values;
  const float* key_scales;
  const float* value_scales;
  void* out;
  float* partial_sums;
  float* partial_stats;
};

// Shared memory: queries [queries][padded dim], keys [32][padded dim + 1] (the +1 spreads a column's
// reads over the banks), values [32][padded dim], probabilities [warps][queries per warp][32].
__host__ __device__ constexpr size_t attention_shared_floats(int padded_dim, int queries_per_warp) {
  return static_cast<size_t>(kWarps * queries_per_warp) * padded_dim + static_cast<size_t>(kKeys) * (padded_dim + 1) +
         static_cast<size_t>(kKeys) * padded_dim + static_cast<size_t>(kWarps * queries_per_warp) * kKeys;
}

template <class T, class C, int kDimsPerLane, int kQueriesPerWarp>
__global__ void __launch_bounds__(kWarps * 32) paged_attention_kernel(AttentionParams p) {
  constexpr int kPaddedDim = 32 * kDimsPerLane;
  constexpr int kQueries = kWarps * kQueriesPerWarp;
  extern __shared__ float shared[];
  float* q_s = shared;
  float* k_s = q_s + kQueries * kPaddedDim;
  float* v_s = k_s + kKeys * (kPaddedDim + 1);
  float* p_s = v_s + kKeys * kPaddedDim;

  if (static_cast<int>(blockIdx.x) >= p.step.counts->attention_items) return;
  const AttentionItem item = p.step.attention_items[blockIdx.x];
  const int kv_head = static_cast<int>(blockIdx.y) / p.head_groups;
  const int first_head = kv_head * p.group + (static_cast<int>(blockIdx.y) % p.head_groups) * p.heads_per_block;
  const int heads = min(p.heads_per_block, kv_head * p.group + p.group - first_head);
  const int queries = item.rows * heads;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int D = p.head_dim;
  const int32_t seq_first = p.step.query_start[item.sequence];
  const int32_t seq_rows = p.step.query_start[item.sequence + 1] - seq_first;
  const int32_t context = p.step.context_lens[item.sequence];
  const int32_t* table = p.step.block_tables + static_cast<int64_t>(item.sequence) * p.step.block_table_stride;

  // Queries: index q = row within the item * heads + head within the block.
  const T* x = static_cast<const T*>(p.x);
  for (int k = threadIdx.x; k < queries * kPaddedDim; k += blockDim.x) {
    const int q = k / kPaddedDim, d = k % kPaddedDim;
    float v = 0.0f;
    if (d < D) {
      const int64_t row = item.first_row + q / heads;
      v = to_float(x[row * p.row_stride + p.q_offset + static_cast<int64_t>(first_head + q % heads) * D + d]);
    }
    q_s[k] = v;
  }

  float out[kQueriesPerWarp][kDimsPerLane];
  float running_max[kQueriesPerWarp], running_sum[kQueriesPerWarp];
  int position[kQueriesPerWarp];  // the last key each of this warp's queries may see
#pragma unroll
  for (int j = 0; j < kQueriesPerWarp; ++j) {
    running_max[j] = -FLT_MAX;
    running_sum[j] = 0.0f;
#pragma unroll
    for (int e = 0; e < kDimsPerLane; ++e) out[j][e] = 0.0f;
    const int q = warp + kWarps * j;
    position[j] = context - seq_rows + (item.first_row - seq_first) + q / max(heads, 1);
  }

  const C* keys = static_cast<const C*>(p.keys);
  const C* values = static_cast<const C*>(p.values);
  for (int32_t chunk = item.key_begin; chunk < item.key_end; chunk += kKeys) {
    const int n = min(kKeys, item.key_end - chunk);
    __syncthreads();  // the previous chunk's keys and values are no longer read
    for (int k = threadIdx.x; k < kKeys * kPaddedDim; k += blockDim.x) {
      const int j = k / kPaddedDim, d = k % kPaddedDim;
      float key = 0.0f, value = 0.0f;
      if (j < n && d < D) {
        const int32_t pos = chunk + j;
        const int64_t place = (static_cast<int64_t>(table[pos / p.block_size]) * p.kv_heads + kv_head) * p.block_size +
                              pos % p.block_size;
        key = KvCode<C>::load(keys, place * D + d);
        value = KvCode<C>::load(values, place * D + d);
        if constexpr (KvCode<C>::scaled) {
          key *= p.key_scales[place];
          value *= p.value_scales[place];
        }
      }
      k_s[j * (kPaddedDim + 1) + d] = key;
      v_s[j * kPaddedDim + d] = value;
    }
    __syncthreads();

#pragma unroll
    for (int j = 0; j < kQueriesPerWarp; ++j) {
      const int q = warp + kWarps * j;
      if (q >= queries) continue;  // the same for the whole warp
      float score = -FLT_MAX;
      if (lane < n && chunk + lane <= position[j]) {
        const float* qv = q_s + q * kPaddedDim;
        const float* kv = k_s + lane * (kPaddedDim + 1);
        float dot = 0.0f;
        for (int d = 0; d < D; ++d) dot += qv[d] * kv[d];
        score = dot * p.scale_log2;
      }
      const float chunk_max = warp_max(score);
      const float new_max = fmaxf(running_max[j], chunk_max);
      // A chunk wholly past the query's position leaves everything as it was.
      const float probability = score == -FLT_MAX ? 0.0f : exp2f(score - new_max);
      const float rescale = exp2f(running_max[j] - new_max);
      running_sum[j] = running_sum[j] * rescale + warp_sum(probability);
      running_max[j] = new_max;
      p_s[(warp * kQueriesPerWarp + j) * kKeys + lane] = probability;
      __syncwarp();
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) {
        const int d = lane + 32 * e;
        float acc = out[j][e] * rescale;
        for (int key = 0; key < n; ++key) acc += p_s[(warp * kQueriesPerWarp + j) * kKeys + key] * v_s[key * kPaddedDim + d];
        out[j][e] = acc;
      }
      __syncwarp();
    }
  }

#pragma unroll
  for (int j = 0; j < kQueriesPerWarp; ++j) {
    const int q = warp + kWarps * j;
    if (q >= queries) continue;
    const int64_t row = item.first_row + q / heads;
    const int head = first_head + q % heads;
    if (item.partial < 0) {
      T* o = static_cast<T*>(p.out) + row * static_cast<int64_t>(p.q_heads) * D + static_cast<int64_t>(head) * D;
      const float inverse = running_sum[j] > 0.0f ? 1.0f / running_sum[j] : 0.0f;
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) {
        const int d = lane + 32 * e;
        if (d < D) o[d] = from_float<T>(out[j][e] * inverse);
      }
    } else {
      const int64_t slot = static_cast<int64_t>(item.partial) * p.q_heads + head;
#pragma unroll
      for (int e = 0; e < kDimsPerLane; ++e) {
        const int d = lane + 32 * e;
        if (d < D) p.partial_sums[slot * D + d] = out[j][e];
      }
      if (lane == 0) {
        p.partial_stats[slot * 2] = running_max[j];
        p.partial_stats[slot * 2 + 1] = running_sum[j];
      }
    }
  }
}

// One block per (merge, q head): the partitions' sums rescaled to the largest running max.
template <class T>
__global__ void merge_partials_kernel(DeviceStep step, const float* partial_sums, const float* partial_stats,
                                      int32_t q_heads, int32_t head_dim, T* out) {
  if (static_cast<int>(blockIdx.x) >= step.counts->merges) return;
  const MergeItem m = step.merges[blockIdx.x];
  const int head = blockIdx.y;
  float largest = -FLT_MAX;
  for (int i = 0; i < m.partials; ++i) {
    largest = fmaxf(largest, partial_stats[(static_cast<int64_t>(m.first_partial + i) * q_heads + head) * 2]);
  }
  float total = 0.0f;
  for (int i = 0; i < m.partials; ++i) {
    const int64_t slot = static_cast<int64_t>(m.first_partial + i) * q_heads + head;
    total += partial_stats[slot * 2 + 1] * exp2f(partial_stats[slot * 2] - largest);
  }
  const float inverse = total > 0.0f ? 1.0f / total : 0.0f;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float acc = 0.0f;
    for (int i = 0; i < m.partials; ++i) {
      const int64_t slot = static_cast<int64_t>(m.first_partial + i) * q_heads + head;
      acc += partial_sums[slot * head_dim + d] * exp2f(partial_stats[slot * 2] - largest);
    }
    out[static_cast<int64_t>(m.row) * q_heads * head_dim + static_cast<int64_t>(head) * head_dim + d] =
        from_float<T>(acc * inverse);
  }
}

template <class T, class C, int kDimsPerLane>
void launch_attention_for(const AttentionParams& p, int64_t items, int64_t merges, int64_t queries_per_block,
                          cudaStream_t stream) {
  constexpr int kQueriesPerWarp = kDimsPerLane <= 4 ? 4 : 2;
  if (queries_per_block > kWarps * kQueriesPerWarp) throw std::logic_error("paged attention: too many queries per block");
  const size_t shared = attention_shared_floats(32 * kDimsPerLane, kQueriesPerWarp) * sizeof(float);
  auto* kernel = paged_attention_kernel<T, C, kDimsPerLane, kQueriesPerWarp>;
  // Past 48 KB a block's shared memory must be asked for explicitly (once per instantiation suffices;
  // asking again is cheap and keeps this free of static state).
  if (shared > 48 * 1024) {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(shared)),
          "raising paged attention's shared memory limit");
  }
  if (items > 0) {
    kernel<<<dim3(static_cast<unsigned>(items), static_cast<unsigned>(p.kv_heads * p.head_groups)), kWarps * 32, shared,
             stream>>>(p);
    check_launch("paged_attention");
  }
  if (merges > 0) {
    merge_partials_kernel<T><<<dim3(static_cast<unsigned>(merges), static_cast<unsigned>(p.q_heads)), 128, 0, stream>>>(
        p.step, p.partial_sums, p.partial_stats, p.q_heads, p.head_dim, static_cast<T*>(p.out));
    check_launch("merge_partials");
  }
}

}  // namespace

void launch_store_kv(const DeviceStep& step, int64_t rows, const void* x, int64_t k_offset, int64_t v_offset,
                     int64_t row_stride, const KvLayerView& kv, ElementType activation, cudaStream_t stream) {
  dispatch_float_type(activation, "store_kv", [&](auto tag) {
    using T = decltype(tag);
    dispatch_kv_type(kv.type, [&](auto code) {
      using C = decltype(code);
      store_kv_kernel<T, C><<<dim3(static_cast<unsigned>(rows), static_cast<unsigned>(kv.kv_heads), 2), 32, 0, stream>>>(
          step, static_cast<const T*>(x), k_offset, v_offset, row_stride, static_cast<C*>(kv.keys),
          static_cast<C*>(kv.values), kv.key_scales, kv.value_scales, kv.kv_heads, kv.head_dim, kv.block_size);
    });
  });
  check_launch("store_kv");
}

void launch_paged_attention(const DeviceStep& step, const KvLayerView& kv, const AttentionLaunch& a,
                            ElementType activation, cudaStream_t stream) {
  const int64_t group = a.q_heads / kv.kv_heads;
  const int64_t per_block_queries = kv.head_dim <= 128 ? 16 : 8;
  const int64_t heads_per_block = std::min(group, per_block_queries);
  AttentionParams p{};
  p.step = step;
  p.x = a.x;
  p.q_offset = a.q_offset;
  p.row_stride = a.row_stride;
  p.q_heads = static_cast<int32_t>(a.q_heads);
  p.kv_heads = static_cast<int32_t>(kv.kv_heads);
  p.group = static_cast<int32_t>(group);
  p.heads_per_block = static_cast<int32_t>(heads_per_block);
  p.head_groups = static_cast<int32_t>((group + heads_per_block - 1) / heads_per_block);
  p.head_dim = static_cast<int32_t>(kv.head_dim);
  p.block_size = static_cast<int32_t>(kv.block_size);
  p.scale_log2 = a.scale * 1.4426950408889634f;
  p.keys = kv.keys;
  p.values = kv.values;
  p.key_scales = kv.key_scales;
  p.value_scales = kv.value_scales;
  p.out = a.out;
  p.partial_sums = a.partial_sums;
  p.partial_stats = a.partial_stats;
  const int64_t dims_per_lane = (kv.head_dim + 31) / 32;
  dispatch_float_type(activation, "paged_attention", [&](auto tag) {
    using T = decltype(tag);
    dispatch_kv_type(kv.type, [&](auto code) {
      using C = decltype(code);
      if (dims_per_lane <= 1) {
        launch_attention_for<T, C, 1>(p, a.items, a.merges, per_block_queries, stream);
      } else if (dims_per_lane <= 2) {
        launch_attention_for<T, C, 2>(p, a.items, a.merges, per_block_queries, stream);
      } else if (dims_per_lane <= 4) {
        launch_attention_for<T, C, 4>(p, a.items, a.merges, per_block_queries, stream);
      } else {
        launch_attention_for<T, C, 8>(p, a.items, a.merges, per_block_queries, stream);
      }
    });
  });
}

void launch_copy_kv_blocks(const KvLayerView* layers, int64_t layer_count, const int32_t* pairs, int64_t count,
                           cudaStream_t stream) {
  for (int64_t l = 0; l < layer_count; ++l) {
    const KvLayerView& kv = layers[l];
    const int64_t block_elements = kv.kv_heads * kv.block_size * kv.head_dim;
    const auto element = static_cast<int64_t>(element_block_bytes(kv.type));
    const int64_t block_scales = kv.kv_heads * kv.block_size;
    for (int64_t i = 0; i < count; ++i) {
      const int64_t from = pairs[2 * i], to = pairs[2 * i + 1];
      for (auto* base : {static_cast<std::byte*>(kv.keys), static_cast<std::byte*>(kv.values)}) {
        check(cudaMemcpyAsync(base + to * block_elements * element, base + from * block_elements * element,
                              static_cast<size_t>(block_elements * element), cudaMemcpyDeviceToDevice, stream),
              "copying a KV block");
      }
      for (float* scales : {kv.key_scales, kv.value_scales}) {
        if (scales == nullptr) continue;
        check(cudaMemcpyAsync(scales + to * block_scales, scales + from * block_scales,
                              static_cast<size_t>(block_scales) * sizeof(float), cudaMemcpyDeviceToDevice, stream),
              "copying a KV block's scales");
      }
    }
  }
}

}  // namespace sabre::cuda
