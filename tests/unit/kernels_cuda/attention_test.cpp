// [cuda] Storing keys and values and paged attention against the CPU backend: every KV cache type,
// a step mixing a decode over a long context (split into partitions), a decode over a short one, a
// prompt chunk over a cached prefix and a fresh prompt, grouped-query layouts and several head sizes.

#include <fmt/format.h>

#include <numeric>

#include "tests/unit/kernels_cuda/cuda_test_support.hpp"
#include "tests/unit/kernels_cuda/step_pair.hpp"

namespace sabre::cuda_test {
namespace {

struct Geometry {
  int64_t q_heads, kv_heads, head_dim;
};

// Runs store_kv then attention for one step on one backend; returns the attention output.
std::vector<float> attend(Backend& backend, KvCache& kv, const std::vector<SequenceSpec>& specs,
                          const std::vector<float>& qkv, const Geometry& g) {
  upload(backend, specs, kv);
  const int64_t rows = total_rows(specs);
  const int64_t stride = (g.q_heads + 2 * g.kv_heads) * g.head_dim;
  const HeadLayout q{g.q_heads, g.head_dim, 0, stride};
  const HeadLayout k{g.kv_heads, g.head_dim, g.q_heads * g.head_dim, stride};
  const HeadLayout v{g.kv_heads, g.head_dim, (g.q_heads + g.kv_heads) * g.head_dim, stride};
  auto x = put(backend, qkv);
  auto out = backend.allocate(backend.activation_type(), rows * g.q_heads * g.head_dim);
  backend.store_kv(0, x->raw(), k, v);
  backend.attention(0, x->raw(), q, 1.0f / std::sqrt(static_cast<float>(g.head_dim)), out->raw());
  return get(backend, *out, static_cast<size_t>(rows * g.q_heads * g.head_dim));
}

std::vector<int32_t> tokens(int64_t n) { return std::vector<int32_t>(static_cast<size_t>(n), 1); }

}  // namespace

TEST_CASE("cuda: store_kv and paged attention match the CPU for every KV type and step shape", "[cuda]") {
  const std::vector<Geometry> geometries = {{4, 4, 16}, {8, 2, 64}, {28, 4, 128}, {40, 2, 128}, {8, 4, 256}};
  for (const ElementType activation : activation_types()) {
    auto gpu = device_backend(activation);
    if (!gpu) return;
    CpuBackend cpu{CpuBackendOptions{.threads = 2, .exact_kernels = true}};
    for (const Geometry& g : geometries) {
      for (const ElementType kv_type :
           {ElementType::f32, ElementType::bf16, ElementType::f16, ElementType::i8, ElementType::fp8_e4m3}) {
        INFO(fmt::format("activations {}, KV {}, {} q heads over {} kv heads of {}", element_type_name(activation),
                         element_type_name(kv_type), g.q_heads, g.kv_heads, g.head_dim));
        // Blocks handed out in reverse so that no table is contiguous.
        const int64_t block = 16, blocks = 120;
        std::vector<int32_t> free(static_cast<size_t>(blocks));
        std::iota(free.rbegin(), free.rend(), 0);
        const auto take = [&](int64_t tokens_needed) {
          std::vector<int32_t> table;
          for (int64_t i = 0; i < (tokens_needed + block - 1) / block; ++i) {
            table.push_back(free.back());
            free.pop_back();
          }
          return table;
        };
        // Long decode (1100 cached: split), chunk over a prefix (40 cached + 37), fresh prompt (20),
        // short decode (4 cached).
        const auto long_table = take(1101), chunk_table = take(77), fresh_table = take(20), short_table = take(5);
        const std::vector<SequenceSpec> history = {{tokens(1100), 0, long_table, false},
                                                   {tokens(40), 0, chunk_table, false},
                                                   {tokens(4), 0, short_table, false}};
        const std::vector<SequenceSpec> step = {{tokens(1), 1100, long_table, true},
                                                {tokens(37), 40, chunk_table, true},
                                                {tokens(20), 0, fresh_table, true},
                                                {tokens(1), 4, short_table, true}};
        KvCacheShape shape{1, g.kv_heads, g.head_dim, block, blocks, kv_type};
        shape.q_heads = g.q_heads;
        auto gpu_kv = gpu->create_kv_cache(shape);
        auto cpu_kv = cpu.create_kv_cache(shape);
        const int64_t stride = (g.q_heads + 2 * g.kv_heads) * g.head_dim;
        const auto before = rounded(random_values(static_cast<size_t>(total_rows(history) * stride), 21), activation);
        const auto now = rounded(random_values(static_cast<size_t>(total_rows(step) * stride), 22), activation);
        attend(*gpu, *gpu_kv, history, before, g);
        attend(cpu, *cpu_kv, history, before, g);
        const auto got = attend(*gpu, *gpu_kv, step, now, g);
        const auto want = attend(cpu, *cpu_kv, step, now, g);
        CHECK(relative_error(got, want) < tolerance(activation) * 2);
      }
    }
  }
}

TEST_CASE("cuda: copy_kv_blocks copies every layer's keys, values and scales", "[cuda]") {
  auto gpu = device_backend(ElementType::f32);
  if (!gpu) return;
  CpuBackend cpu{CpuBackendOptions{.threads = 2, .exact_kernels = true}};
  for (const ElementType kv_type : {ElementType::f32, ElementType::i8}) {
    INFO("KV " << element_type_name(kv_type));
    const Geometry g{4, 2, 32};
    KvCacheShape shape{1, g.kv_heads, g.head_dim, 16, 4, kv_type};
    shape.q_heads = g.q_heads;
    auto gpu_kv = gpu->create_kv_cache(shape);
    auto cpu_kv = cpu.create_kv_cache(shape);
    const int64_t stride = (g.q_heads + 2 * g.kv_heads) * g.head_dim;
    const auto values = random_values(static_cast<size_t>(10 * stride), 31);
    attend(*gpu, *gpu_kv, {{tokens(10), 0, {2}, false}}, values, g);
    attend(cpu, *cpu_kv, {{tokens(10), 0, {2}, false}}, values, g);
    // Block 2 copied to block 0, then attention reads it through a table naming block 0.
    gpu->copy_kv_blocks(*gpu_kv, std::vector<KvBlockCopy>{{2, 0}});
    cpu.copy_kv_blocks(*cpu_kv, std::vector<KvBlockCopy>{{2, 0}});
    const auto next = random_values(static_cast<size_t>(stride), 32);
    const auto got = attend(*gpu, *gpu_kv, {{tokens(1), 10, {0}, true}}, next, g);
    const auto want = attend(cpu, *cpu_kv, {{tokens(1), 10, {0}, true}}, next, g);
    CHECK(relative_error(got, want) < 1e-5);
  }
}

}  // namespace sabre::cuda_test
