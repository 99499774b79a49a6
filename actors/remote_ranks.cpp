#include "actors/remote_ranks.hpp"

#include <fmt/format.h>

#include <charconv>
#include <stdexcept>

namespace sabre {

WorkerPlan make_worker_plan(const EngineOptions& options, int32_t node, int32_t launch, const StepLimits& limits,
                            int64_t blocks_per_sequence) {
  WorkerPlan plan;
  plan.world_size = static_cast<int32_t>(options.parallel.tensor_parallel_size);
  plan.local_ranks = static_cast<int32_t>(options.parallel.ranks_per_node());
  plan.first_rank = node * plan.local_ranks;
  plan.group = fmt::format("tp-launch-{}", launch);
  plan.launch = launch;
  plan.dtype = static_cast<int32_t>(options.weights.dtype);
  plan.gguf = static_cast<int32_t>(options.weights.gguf);
  plan.load_format = static_cast<int32_t>(options.weights.load_format);
  plan.block_size = options.cache.block_size;
  plan.kv_cache_dtype = static_cast<int32_t>(options.cache.kv_cache_dtype);
  plan.num_kv_blocks = options.cache.num_kv_blocks;
  plan.gpu_memory_utilization = options.cache.gpu_memory_utilization;
  plan.kv_cache_bytes = options.cache.kv_cache_bytes;
  plan.device = options.device.device;
  plan.batch_invariant = options.device.batch_invariant;
  plan.exact_kernels = options.device.exact_kernels;
  plan.enable_cuda_graph = options.device.enable_cuda_graph;
  plan.cuda_graph_max_batch_size = options.device.cuda_graph_max_batch_size;
  plan.max_tokens = limits.max_tokens;
  plan.max_sequences = limits.max_sequences;
  plan.max_logit_rows = limits.max_logit_rows;
  plan.max_blocks_per_sequence = limits.max_blocks_per_sequence;
  plan.blocks_per_sequence = blocks_per_sequence;
  plan.step_timeout_seconds = options.scheduler.step_timeout_seconds;
  return plan;
}

EngineOptions options_from_plan(const WorkerPlan& plan, const EngineOptions& local) {
  EngineOptions options = local;
  options.parallel.tensor_parallel_size = plan.world_size;
  options.weights.dtype = static_cast<ModelDtype>(plan.dtype);
  options.weights.gguf = static_cast<GgufWeights>(plan.gguf);
  options.weights.load_format = static_cast<LoadFormat>(plan.load_format);
  options.cache.block_size = static_cast<int32_t>(plan.block_size);
  options.cache.kv_cache_dtype = static_cast<KvCacheDtype>(plan.kv_cache_dtype);
  options.cache.num_kv_blocks = plan.num_kv_blocks;
  options.cache.gpu_memory_utilization = plan.gpu_memory_utilization;
  options.cache.kv_cache_bytes = plan.kv_cache_bytes;
  options.device.device = plan.device;
  options.device.batch_invariant = plan.batch_invariant;
  options.device.exact_kernels = plan.exact_kernels;
  options.device.enable_cuda_graph = plan.enable_cuda_graph;
  options.device.cuda_graph_max_batch_size = plan.cuda_graph_max_batch_size;
  options.scheduler.step_timeout_seconds = plan.step_timeout_seconds;
  return options;
}

StepLimits limits_from_plan(const WorkerPlan& plan) {
  StepLimits limits;
  limits.max_tokens = plan.max_tokens;
  limits.max_sequences = plan.max_sequences;
  limits.max_logit_rows = plan.max_logit_rows;
  limits.max_blocks_per_sequence = plan.max_blocks_per_sequence;
  return limits;
}

std::pair<std::string, uint16_t> parse_host_port(const std::string& address, const std::string& flag) {
  const auto colon = address.rfind(':');
  unsigned port = 0;
  if (colon == std::string::npos || colon == 0) {
    throw std::runtime_error(fmt::format("{} '{}': expected HOST:PORT", flag, address));
  }
  const char* begin = address.data() + colon + 1;
  const char* end = address.data() + address.size();
  const auto [ptr, ec] = std::from_chars(begin, end, port);
  if (ec != std::errc() || ptr != end || port == 0 || port > 65535) {
    throw std::runtime_error(fmt::format("{} '{}': the port must be 1..65535", flag, address));
  }
  return {address.substr(0, colon), static_cast<uint16_t>(port)};
}

}  // namespace sabre
