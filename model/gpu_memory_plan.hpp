#pragma once
// How many KV blocks a GPU gets (--gpu-memory-utilization, as the design's seed defines it): after the
// weights are loaded and a profiling step at the largest batch has allocated every workspace, the KV
// cache takes `utilization` of (total device memory - weights). What is left over (1 - utilization of
// it) holds the activations, the workspaces and the CUDA graphs; when the share asked for is more than
// is free, starting fails with the figures and what to change rather than failing later mid-request.

#include <cstddef>
#include <cstdint>
#include <string>

namespace sabre {

struct GpuMemoryFigures {
  size_t total = 0;         // the device's memory
  size_t weights = 0;       // the model's weights
  size_t free_before_profile = 0;
  size_t free_after_profile = 0;  // what the profiling step left free
};

struct KvCachePlan {
  int64_t num_blocks = 0;
  size_t kv_bytes = 0;
  size_t activations = 0;  // taken by the profiling step (workspaces, cuBLASLt, sampling buffers)
  std::string summary;     // one line with every figure, for the start-up log
};

// Throws std::runtime_error naming the figures and the flag to change when the share does not fit in
// what is free or holds fewer than `min_blocks` blocks of `block_bytes`.
KvCachePlan plan_gpu_kv_cache(const GpuMemoryFigures& figures, double utilization, size_t block_bytes,
                              int64_t block_size, int64_t min_blocks);

}  // namespace sabre
