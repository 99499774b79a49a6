#include "model/gpu_memory_plan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace sabre {
namespace {

double gib(size_t bytes) { return static_cast<double>(bytes) / (1 << 30); }

// Kept free beyond the KV cache for what the profiling step cannot see: the CUDA graphs' own memory and
// the allocator's rounding.
constexpr size_t kHeadroom = size_t{256} << 20;

}  // namespace

KvCachePlan plan_gpu_kv_cache(const GpuMemoryFigures& f, double utilization, size_t block_bytes, int64_t block_size,
                              int64_t min_blocks) {
  if (!(utilization > 0.0 && utilization <= 1.0)) {
    throw std::invalid_argument(fmt::format("--gpu-memory-utilization {} is outside (0, 1]", utilization));
  }
  if (block_bytes == 0) throw std::invalid_argument("plan_gpu_kv_cache: a KV block of 0 bytes");
  KvCachePlan plan;
  plan.activations = f.free_before_profile > f.free_after_profile ? f.free_before_profile - f.free_after_profile : 0;
  const size_t after_weights = f.total > f.weights ? f.total - f.weights : 0;
  const auto share = static_cast<size_t>(utilization * static_cast<double>(after_weights));
  const size_t available = f.free_after_profile > kHeadroom ? f.free_after_profile - kHeadroom : 0;
  if (share > available) {
    const double fits = static_cast<double>(available) / static_cast<double>(std::max<size_t>(after_weights, 1));
    throw std::runtime_error(fmt::format(
        "--gpu-memory-utilization {:.2f} asks for {:.2f} GiB of KV cache ({:.2f} of {:.2f} GiB total - {:.2f} GiB of "
        "weights), but only {:.2f} GiB are free after the profiling step took {:.2f} GiB (and {:.2f} GiB are kept "
        "for CUDA graphs); use --gpu-memory-utilization {:.2f} or less, or lower --max-num-batched-tokens / "
        "--max-num-seqs",
        utilization, gib(share), utilization, gib(f.total), gib(f.weights), gib(f.free_after_profile),
        gib(plan.activations), gib(kHeadroom), std::max(0.0, fits - 0.005)));
  }
  plan.num_blocks = static_cast<int64_t>(share / block_bytes);
  plan.kv_bytes = static_cast<size_t>(plan.num_blocks) * block_bytes;
  if (plan.num_blocks < min_blocks) {
    throw std::runtime_error(fmt::format(
        "the KV cache gets {:.2f} GiB ({} blocks of {} tokens), fewer than the {} blocks one sequence of "
        "max_model_len needs; raise --gpu-memory-utilization, lower --max-model-len, or use a smaller "
        "--kv-cache-dtype (the weights take {:.2f} of {:.2f} GiB)",
        gib(plan.kv_bytes), plan.num_blocks, block_size, min_blocks, gib(f.weights), gib(f.total)));
  }
  plan.summary = fmt::format(
      "GPU memory: {:.2f} GiB total, weights {:.2f} GiB, activations and workspaces {:.2f} GiB, KV cache {:.2f} GiB "
      "({:.2f} of what the weights leave) = {} blocks of {} tokens = {} tokens of capacity",
      gib(f.total), gib(f.weights), gib(plan.activations), gib(plan.kv_bytes), utilization, plan.num_blocks,
      block_size, plan.num_blocks * block_size);
  return plan;
}

}  // namespace sabre
