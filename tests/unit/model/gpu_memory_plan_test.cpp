// --gpu-memory-utilization's arithmetic: the KV cache gets the share of (total - weights), and a share
// that does not fit, or too few blocks, fail at start with the figures and the flag to change.

#include <catch2/catch.hpp>

#include "model/gpu_memory_plan.hpp"

using namespace sabre;
using Catch::Contains;

namespace {
constexpr size_t GiB = size_t{1} << 30;
constexpr size_t MiB = size_t{1} << 20;
}  // namespace

TEST_CASE("the KV cache takes the share of what the weights leave", "[gpu_memory]") {
  // An 80 GiB card, 16 GiB of weights, 2 GiB taken by the profiling step.
  const GpuMemoryFigures f{80 * GiB, 16 * GiB, 63 * GiB, 61 * GiB};
  const KvCachePlan plan = plan_gpu_kv_cache(f, 0.85, 2 * MiB, 16, 100);
  const auto share = static_cast<size_t>(0.85 * static_cast<double>(64 * GiB));
  CHECK(plan.num_blocks == static_cast<int64_t>(share / (2 * MiB)));
  CHECK(plan.kv_bytes <= share);
  CHECK(plan.activations == 2 * GiB);
  CHECK_THAT(plan.summary, Contains("weights 16.00 GiB") && Contains("blocks of 16 tokens") &&
                               Contains(std::to_string(plan.num_blocks * 16) + " tokens of capacity"));
}

TEST_CASE("a share larger than what is free fails with the figures and a share that fits", "[gpu_memory]") {
  const GpuMemoryFigures f{80 * GiB, 16 * GiB, 63 * GiB, 50 * GiB};  // the profiling step took 13 GiB
  CHECK_THROWS_WITH(plan_gpu_kv_cache(f, 0.95, 2 * MiB, 16, 1),
                    Contains("--gpu-memory-utilization 0.95") && Contains("50.00 GiB are free") &&
                        Contains("or less"));
  CHECK_NOTHROW(plan_gpu_kv_cache(f, 0.75, 2 * MiB, 16, 1));
}

TEST_CASE("too few blocks for one sequence fail with what to change", "[gpu_memory]") {
  const GpuMemoryFigures f{24 * GiB, 22 * GiB, 2 * GiB, 1900 * MiB};
  CHECK_THROWS_WITH(plan_gpu_kv_cache(f, 0.5, 64 * MiB, 16, 1000),
                    Contains("fewer than the 1000 blocks") && Contains("--max-model-len"));
  CHECK_THROWS_AS(plan_gpu_kv_cache(f, 0.0, 64 * MiB, 16, 1), std::invalid_argument);
  CHECK_THROWS_AS(plan_gpu_kv_cache(f, 1.5, 64 * MiB, 16, 1), std::invalid_argument);
}
