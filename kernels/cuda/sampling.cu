// Sampling where the logits are. Per row: the raw logits' log-softmax terms (for reported
// log-probabilities), the adjusted logits (bias, min_tokens mask, penalties: sparse, from the host), then
// greedy's argmax or the candidates of top-k, min_p and top-p and the draw, as the CPU sampler defines
// them (kernels/cpu/sampler.cpp): candidates in descending logit order with ties to the lower id, the
// draw walking that order until the cumulative weight passes u * total.
//
// No sort: every token gets a 64-bit key that orders it as the CPU's sort does (descending logit, then
// ascending id), and each cut (the k-th key, the key where the cumulative mass reaches top_p, the key
// where it passes the draw's target) is found by a radix descent over the keys, 8 bits at a time, with
// a 256-bin histogram of counts or weights of the tokens that share the prefix found so far.

#include <cfloat>
#include <cmath>

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/device_math.cuh"
#include "kernels/cuda/launch_sampling.hpp"

namespace sabre::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kBins = 256;

// Ascending in the CPU's candidate order: the logit's bits flipped so that larger logits come first,
// then the id.
__device__ __forceinline__ uint64_t order_key(float logit, int32_t token) {
  uint32_t bits = __float_as_uint(logit);
  if (bits == 0x80000000u) bits = 0;  // -0 equals +0: the tie goes to the lower id, as on the CPU
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return (static_cast<uint64_t>(~ascending) << 32) | static_cast<uint32_t>(token);
}

struct RowShared {
  double bins[kBins];
  double reduce[kThreads / 32];
  uint64_t reduce_keys[kThreads / 32];
  uint64_t prefix;
  double before;   // the mass of keys below the prefix
  double reached;  // the mass up to and including the found key
  int found;
};

__device__ double block_sum_double(double v, RowShared& s) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xFFFFFFFFu, v, offset);
  __syncthreads();
  if (threadIdx.x % 32 == 0) s.reduce[threadIdx.x / 32] = v;
  __syncthreads();
  double total = 0.0;
  for (int w = 0; w < kThreads / 32; ++w) total += s.reduce[w];  // the same order in every thread
  return total;
}

__device__ float block_max_float(float v, RowShared& s) {
  v = warp_max(v);
  __syncthreads();
  if (threadIdx.x % 32 == 0) s.reduce[threadIdx.x / 32] = v;
  __syncthreads();
  double best = s.reduce[0];
  for (int w = 1; w < kThreads / 32; ++w) best = fmax(best, s.reduce[w]);
  return static_cast<float>(best);
}

__device__ uint64_t block_min_key(uint64_t v, RowShared& s) {
  for (int offset = 16; offset > 0; offset /= 2) {
    const uint64_t other = __shfl_xor_sync(0xFFFFFFFFu, v, offset);
    v = other < v ? other : v;
  }
  __syncthreads();
  if (threadIdx.x % 32 == 0) s.reduce_keys[threadIdx.x / 32] = v;
  __syncthreads();
  uint64_t best = s.reduce_keys[0];
  for (int w = 1; w < kThreads / 32; ++w) best = s.reduce_keys[w] < best ? s.reduce_keys[w] : best;
  return best;
}

// The smallest key K such that the sum of weight(t) over tokens with key <= K reaches `target`
// (passes it when `strict`). weight(t, key) returns the token's contribution (0 to leave it out); its key
// is order_key, or the token id itself when `by_id` (the order the CPU walks unsorted candidates in).
// Returns whether one exists; s.prefix is K, s.reached the sum up to K.
template <class Weight>
__device__ bool radix_descent(const float* logits, int64_t vocab, double target, bool strict, Weight weight,
                              RowShared& s, bool by_id = false) {
  __syncthreads();  // every thread has read the previous descent's result
  if (threadIdx.x == 0) {
    s.prefix = 0;
    s.before = 0.0;
    s.found = 1;
  }
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < kBins; b += blockDim.x) s.bins[b] = 0.0;
    __syncthreads();
    const uint64_t high_mask = shift == 56 ? 0 : ~((uint64_t{1} << (shift + 8)) - 1);
    const uint64_t prefix = s.prefix;
    // Runs of tokens falling in one bin are summed in a register first: on the first digits most of the
    // vocabulary lands in a few bins, and one atomic per run instead of per token keeps them cheap.
    int run_bin = -1;
    double run = 0.0;
    for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) {
      const uint64_t key = by_id ? static_cast<uint64_t>(t) : order_key(logits[t], static_cast<int32_t>(t));
      if ((key & high_mask) != prefix) continue;
      const double w = weight(t, key);
      if (w == 0.0) continue;
      const int bin = static_cast<int>((key >> shift) & 0xFF);
      if (bin != run_bin) {
        if (run_bin >= 0) atomicAdd(&s.bins[run_bin], run);
        run_bin = bin;
        run = 0.0;
      }
      run += w;
    }
    if (run_bin >= 0) atomicAdd(&s.bins[run_bin], run);
    __syncthreads();
    if (threadIdx.x == 0) {
      double running = s.before;
      int chosen = -1;
      for (int b = 0; b < kBins; ++b) {
        const double next = running + s.bins[b];
        if (strict ? next > target : next >= target) {
          chosen = b;
          s.reached = next;
          break;
        }
        running = next;
      }
      if (chosen < 0) {
        s.found = 0;
        chosen = kBins - 1;
        s.reached = running;
      }
      s.before = running;
      s.prefix |= static_cast<uint64_t>(chosen) << shift;
    }
    __syncthreads();
    if (!s.found) return false;
  }
  return true;
}

__global__ void adjust_kernel(const float* logits, int64_t vocab, const SampleRowParams* params,
                              const DeviceAdjustment* adjustments, float* processed) {
  const SampleRowParams p = params[blockIdx.x];
  const float* raw = logits + static_cast<int64_t>(p.logits_row) * vocab;
  float* out = processed + static_cast<int64_t>(blockIdx.x) * vocab;
  for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) out[t] = raw[t];
  __syncthreads();
  // One adjustment per token: no two threads touch the same logit. __f*_rn keeps the CPU's roundings
  // (no contraction into fused multiply-adds).
  for (int i = threadIdx.x; i < p.adjust_count; i += blockDim.x) {
    const DeviceAdjustment a = adjustments[p.adjust_begin + i];
    float l = __fadd_rn(out[a.token], a.bias);
    if (a.flags & kAdjustMasked) l = -INFINITY;
    if (a.flags & kAdjustRepeated) l = l > 0 ? __fdiv_rn(l, p.repetition_penalty) : __fmul_rn(l, p.repetition_penalty);
    out[a.token] = __fsub_rn(l, a.subtract);
  }
}

// Sample (probabilities == nullptr) or write the distribution (rows x vocab) of each row.
__global__ void __launch_bounds__(kThreads) sample_kernel(const float* logits, const float* processed, int64_t vocab,
                                                          const SampleRowParams* params, SampleResult* results,
                                                          TopEntry* top, int32_t top_capacity, float* probabilities) {
  __shared__ RowShared s;
  __shared__ int top_count;
  const SampleRowParams p = params[blockIdx.x];
  const float* raw = logits + static_cast<int64_t>(p.logits_row) * vocab;
  const float* adjusted = processed + static_cast<int64_t>(blockIdx.x) * vocab;
  SampleResult result{};

  // The raw log-softmax terms (reported log-probabilities are the raw distribution's).
  if (probabilities == nullptr) {
    float largest = -INFINITY;
    for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) largest = fmaxf(largest, raw[t]);
    result.raw_max = block_max_float(largest, s);
    double sum = 0.0;
    for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) sum += exp(static_cast<double>(raw[t] - result.raw_max));
    result.raw_sum = block_sum_double(sum, s);
  }

  // The adjusted argmax: the smallest key (ties to the lowest id, as torch.argmax).
  uint64_t best = ~uint64_t{0};
  for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) {
    const uint64_t key = order_key(adjusted[t], static_cast<int32_t>(t));
    best = key < best ? key : best;
  }
  best = block_min_key(best, s);
  const auto best_token = static_cast<int32_t>(best & 0xFFFFFFFFu);
  const float best_logit = adjusted[best_token];
  if (best_logit == -INFINITY) {
    if (threadIdx.x == 0) {
      result.status = kSampleAllMasked;
      results[blockIdx.x] = result;
    }
    return;
  }

  int32_t token = best_token;
  uint64_t cut = best;   // candidates: keys <= cut
  double total = 1.0;    // their weight
  const auto candidate_weight = [&](int64_t t, uint64_t key) -> double {
    if (key > cut) return 0.0;
    const double scaled = static_cast<double>(adjusted[t] - best_logit) * p.inv_temperature;
    return scaled >= p.min_p_floor ? static_cast<double>(static_cast<float>(exp(scaled))) : 0.0;
  };
  if (!p.greedy) {
    cut = ~uint64_t{0};
    if (p.top_k > 0 && p.top_k < vocab) {
      radix_descent(adjusted, vocab, static_cast<double>(p.top_k), false, [](int64_t, uint64_t) { return 1.0; }, s);
      cut = s.prefix;
    }
    double weights = 0.0;
    for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) {
      weights += candidate_weight(t, order_key(adjusted[t], static_cast<int32_t>(t)));
    }
    total = block_sum_double(weights, s);
    if (p.top_p < 1.0) {
      // The smallest prefix whose mass reaches top_p (always found: the whole set reaches it).
      if (radix_descent(adjusted, vocab, p.top_p * total, false, candidate_weight, s)) {
        cut = s.prefix;
        total = s.reached;
      }
    }
    if (probabilities == nullptr) {
      // The CPU sorts only for top-k or top-p; otherwise its draw walks the tokens by id.
      const bool by_id = cut == ~uint64_t{0} && p.top_p >= 1.0;
      // With keys by id the cut (all tokens) is no filter; candidate_weight only applies min_p then.
      if (radix_descent(adjusted, vocab, p.uniform * total, true, candidate_weight, s, by_id)) {
        token = static_cast<int32_t>(s.prefix & 0xFFFFFFFFu);
      } else {
        // Rounding put the target at the very end: the last candidate that can be chosen.
        double count = 0.0;
        for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) {
          count += candidate_weight(t, order_key(adjusted[t], static_cast<int32_t>(t))) > 0.0 ? 1.0 : 0.0;
        }
        count = block_sum_double(count, s);
        radix_descent(
            adjusted, vocab, count, false,
            [&](int64_t t, uint64_t key) { return candidate_weight(t, key) > 0.0 ? 1.0 : 0.0; }, s, by_id);
        token = static_cast<int32_t>(s.prefix & 0xFFFFFFFFu);
      }
    }
  }

  if (probabilities != nullptr) {
    float* out = probabilities + static_cast<int64_t>(blockIdx.x) * vocab;
    for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) {
      if (p.greedy) {
        out[t] = t == best_token ? 1.0f : 0.0f;
      } else {
        out[t] = static_cast<float>(candidate_weight(t, order_key(adjusted[t], static_cast<int32_t>(t))) / total);
      }
    }
    if (threadIdx.x == 0) results[blockIdx.x] = result;
    return;
  }

  // The k best raw logits for top_logprobs: every token whose raw key is at most the k-th smallest.
  if (threadIdx.x == 0) top_count = 0;
  __syncthreads();
  const int k = min(p.top_logprobs, min(top_capacity, static_cast<int32_t>(vocab)));
  if (k > 0) {
    radix_descent(raw, vocab, static_cast<double>(k), false, [](int64_t, uint64_t) { return 1.0; }, s);
    const uint64_t kth = s.prefix;
    TopEntry* entries = top + static_cast<int64_t>(blockIdx.x) * top_capacity;
    for (int64_t t = threadIdx.x; t < vocab; t += blockDim.x) {
      if (order_key(raw[t], static_cast<int32_t>(t)) <= kth) {
        const int slot = atomicAdd(&top_count, 1);
        if (slot < top_capacity) entries[slot] = TopEntry{static_cast<int32_t>(t), raw[t]};
      }
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    result.token = token;
    result.token_logit = raw[token];
    result.top_count = min(top_count, top_capacity);
    results[blockIdx.x] = result;
  }
}

}  // namespace

void launch_sampling(const float* logits, int64_t vocab, int64_t rows, const SampleRowParams* params,
                     const DeviceAdjustment* adjustments, float* processed, SampleResult* results, TopEntry* top,
                     int64_t top_capacity, float* probabilities, cudaStream_t stream) {
  if (rows == 0) return;
  adjust_kernel<<<static_cast<unsigned>(rows), 256, 0, stream>>>(logits, vocab, params, adjustments, processed);
  check_launch("sampling: adjust");
  sample_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
      logits, processed, vocab, params, results, top, static_cast<int32_t>(top_capacity), probabilities);
  check_launch("sampling");
}

}  // namespace sabre::cuda
