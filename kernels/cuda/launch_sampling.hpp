#pragma once
// The sampling kernels as a host function (sampling.cu).

#include <cuda_runtime_api.h>

#include <cstdint>

#include "kernels/cuda/sampling_rows.hpp"

namespace sabre::cuda {

// For each of `rows` rows: processed[i] = the row's logits (row params[i].logits_row of `logits`) with its
// adjustments applied; then either results[i] and top[i * top_capacity ...] (probabilities == nullptr) or
// probabilities[i] = the row's distribution over the vocabulary.
void launch_sampling(const float* logits, int64_t vocab, int64_t rows, const SampleRowParams* params,
                     const DeviceAdjustment* adjustments, float* processed, SampleResult* results, TopEntry* top,
                     int64_t top_capacity, float* probabilities, cudaStream_t stream);

}  // namespace sabre::cuda
