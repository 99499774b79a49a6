// [cuda] Each row-wise operation and matrix product of the CUDA backend against the CPU backend on the
// same (rounded) inputs, in every activation type.

#include <fmt/format.h>

#include "tests/unit/kernels_cuda/cuda_test_support.hpp"
#include "tests/unit/kernels_cuda/step_pair.hpp"

namespace sabre::cuda_test {
namespace {

// A one-sequence step of `rows` rows on a small pool, uploaded to both backends (the ops that read the
// step: embedding, rope_table, gather_logit_rows).
struct TwoBackends {
  std::unique_ptr<Backend> gpu;
  CpuBackend cpu{CpuBackendOptions{.threads = 2, .exact_kernels = true}};
  std::unique_ptr<KvCache> gpu_kv, cpu_kv;

  explicit TwoBackends(ElementType activation) : gpu(device_backend(activation)) {}
  void step(const std::vector<SequenceSpec>& specs, KvCacheShape shape) {
    gpu_kv = gpu->create_kv_cache(shape);
    cpu_kv = cpu.create_kv_cache(shape);
    upload(*gpu, specs, *gpu_kv);
    upload(cpu, specs, *cpu_kv);
  }
  void simple_step(int64_t rows, int32_t vocab = 97) {
    SequenceSpec s;
    for (int64_t r = 0; r < rows; ++r) s.tokens.push_back(static_cast<int32_t>((r * 31 + 7) % vocab));
    s.blocks = identity_block_table((rows + 15) / 16);
    step({s}, KvCacheShape{1, 1, 8, 16, static_cast<int64_t>(s.blocks.size()), ElementType::f32});
  }
};

}  // namespace

TEST_CASE("cuda: rms_norm, add_rms_norm, silu_mul and add match the CPU", "[cuda]") {
  for (const ElementType type : activation_types()) {
    TwoBackends b(type);
    if (!b.gpu) return;
    INFO("activations " << element_type_name(type));
    const int64_t rows = 7, dim = 4096, inter = 1000;
    const auto x = rounded(random_values(rows * dim, 1), type);
    const auto residual = rounded(random_values(rows * dim, 2), type);
    const auto weight = random_values(dim, 3);
    const auto gate_up = rounded(random_values(rows * 2 * inter, 4, 3.0f), type);

    auto gx = put(*b.gpu, x), gres = put(*b.gpu, residual), gy = b.gpu->allocate(type, rows * dim);
    auto gw = b.gpu->upload(std::span<const float>(weight));
    auto cx = b.cpu.upload(std::span<const float>(x)), cres = b.cpu.upload(std::span<const float>(residual));
    auto cy = b.cpu.allocate(rows * dim);
    auto cw = b.cpu.upload(std::span<const float>(weight));

    b.gpu->rms_norm(gx->raw(), rows, dim, gw->data(), 1e-6f, gy->raw());
    b.cpu.rms_norm(cx->raw(), rows, dim, cw->data(), 1e-6f, cy->raw());
    CHECK(relative_error(get(*b.gpu, *gy, rows * dim), get(b.cpu, *cy, rows * dim)) < tolerance(type));

    b.gpu->add_rms_norm(gx->raw(), gres->raw(), rows, dim, gw->data(), 1e-6f, gy->raw());
    b.cpu.add_rms_norm(cx->raw(), cres->raw(), rows, dim, cw->data(), 1e-6f, cy->raw());
    CHECK(relative_error(get(*b.gpu, *gx, rows * dim), get(b.cpu, *cx, rows * dim)) < tolerance(type));
    CHECK(relative_error(get(*b.gpu, *gy, rows * dim), get(b.cpu, *cy, rows * dim)) < tolerance(type));

    auto ggu = put(*b.gpu, gate_up), gout = b.gpu->allocate(type, rows * inter);
    auto cgu = b.cpu.upload(std::span<const float>(gate_up)), cout = b.cpu.allocate(rows * inter);
    b.gpu->silu_mul(ggu->raw(), rows, inter, gout->raw());
    b.cpu.silu_mul(cgu->raw(), rows, inter, cout->raw());
    CHECK(relative_error(get(*b.gpu, *gout, rows * inter), get(b.cpu, *cout, rows * inter)) < tolerance(type));

    b.gpu->add(gx->raw(), gres->raw(), static_cast<size_t>(rows * dim));
    b.cpu.add(cx->raw(), cres->raw(), static_cast<size_t>(rows * dim));
    CHECK(relative_error(get(*b.gpu, *gx, rows * dim), get(b.cpu, *cx, rows * dim)) < tolerance(type));
  }
}

TEST_CASE("cuda: q/k norm, the RoPE table and rotation match the CPU", "[cuda]") {
  for (const ElementType type : activation_types()) {
    TwoBackends b(type);
    if (!b.gpu) return;
    INFO("activations " << element_type_name(type));
    const int64_t rows = 37, head_dim = 128, q_heads = 8, kv_heads = 2;
    const int64_t stride = (q_heads + 2 * kv_heads) * head_dim;
    b.simple_step(rows);
    const HeadLayout q{q_heads, head_dim, 0, stride}, k{kv_heads, head_dim, q_heads * head_dim, stride};
    const auto x = rounded(random_values(rows * stride, 5), type);
    const auto norm = random_values(head_dim, 6);
    std::vector<float> inv_freq(head_dim / 2);
    for (size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * static_cast<float>(i) / head_dim);

    auto gx = put(*b.gpu, x), gn = b.gpu->upload(std::span<const float>(norm));
    auto cx = b.cpu.upload(std::span<const float>(x)), cn = b.cpu.upload(std::span<const float>(norm));
    auto gf = b.gpu->upload(std::span<const float>(inv_freq)), cf = b.cpu.upload(std::span<const float>(inv_freq));
    auto gcs = b.gpu->allocate(rows * head_dim), ccs = b.cpu.allocate(rows * head_dim);

    b.gpu->head_rms_norm(gx->raw(), rows, q, gn->data(), 1e-6f);
    b.gpu->head_rms_norm(gx->raw(), rows, k, gn->data(), 1e-6f);
    b.cpu.head_rms_norm(cx->raw(), rows, q, cn->data(), 1e-6f);
    b.cpu.head_rms_norm(cx->raw(), rows, k, cn->data(), 1e-6f);
    CHECK(relative_error(get(*b.gpu, *gx, rows * stride), get(b.cpu, *cx, rows * stride)) < tolerance(type));

    b.gpu->rope_table(std::span<const float>(gf->data(), inv_freq.size()), 1.25f, gcs->data());
    b.cpu.rope_table(std::span<const float>(cf->data(), inv_freq.size()), 1.25f, ccs->data());
    CHECK(relative_error(get(*b.gpu, *gcs, rows * head_dim), get(b.cpu, *ccs, rows * head_dim)) < 1e-5);

    b.gpu->apply_rope(gx->raw(), rows, q, gcs->data());
    b.gpu->apply_rope(gx->raw(), rows, k, gcs->data());
    b.cpu.apply_rope(cx->raw(), rows, q, ccs->data());
    b.cpu.apply_rope(cx->raw(), rows, k, ccs->data());
    CHECK(relative_error(get(*b.gpu, *gx, rows * stride), get(b.cpu, *cx, rows * stride)) < tolerance(type));
  }
}

TEST_CASE("cuda: embedding rows and gathered logits rows match the CPU", "[cuda]") {
  for (const ElementType type : activation_types()) {
    TwoBackends b(type);
    if (!b.gpu) return;
    INFO("activations " << element_type_name(type));
    const int64_t rows = 20, dim = 256, vocab = 97;
    b.simple_step(rows, static_cast<int32_t>(vocab));
    const auto table = rounded(random_values(vocab * dim, 7), type);
    auto gt = put(*b.gpu, table);
    auto ct = b.cpu.upload(std::span<const float>(table));
    auto gout = b.gpu->allocate(type, rows * dim), cout = b.cpu.allocate(rows * dim);
    b.gpu->embedding(gt->raw(), type, dim, 0, vocab, gout->raw());
    b.cpu.embedding(ct->raw(), ElementType::f32, dim, 0, vocab, cout->raw());
    CHECK(relative_error(get(*b.gpu, *gout, rows * dim), get(b.cpu, *cout, rows * dim)) == 0.0);
    // A rank's slice of the vocabulary: rows 40..79 of the table, zeros for ids outside them.
    auto gpart = b.gpu->allocate(type, rows * dim), cpart = b.cpu.allocate(rows * dim);
    b.gpu->embedding(static_cast<std::byte*>(gt->raw()) + element_bytes(type, 40 * dim), type, dim, 40, 40, gpart->raw());
    b.cpu.embedding(ct->data() + 40 * dim, ElementType::f32, dim, 40, 40, cpart->raw());
    CHECK(get(*b.gpu, *gpart, rows * dim) == get(b.cpu, *cpart, rows * dim));

    // Three ranks' logits slices of 2 rows x 40 (the last one padding past a vocabulary of 100).
    std::vector<float> gathered(3 * 2 * 40);
    for (size_t i = 0; i < gathered.size(); ++i) gathered[i] = static_cast<float>(i);
    auto gg = b.gpu->upload(std::span<const float>(gathered)), cg = b.cpu.upload(std::span<const float>(gathered));
    auto gl = b.gpu->allocate(2 * 100), cl = b.cpu.allocate(2 * 100);
    b.gpu->gather_vocab_shards(gg->data(), 3, 2, 40, 100, gl->data());
    b.cpu.gather_vocab_shards(cg->data(), 3, 2, 40, 100, cl->data());
    const auto logits = get(b.cpu, *cl, 200);
    CHECK(logits[1 * 100 + 45] == gathered[(1 * 2 + 1) * 40 + 5]);  // row 1, column 45: shard 1, row 1, 5
    CHECK(get(*b.gpu, *gl, 200) == logits);

    auto gsel = b.gpu->allocate(type, dim), csel = b.cpu.allocate(dim);
    b.gpu->gather_logit_rows(gout->raw(), dim, gsel->raw());  // the last row: the step's one logits row
    b.cpu.gather_logit_rows(cout->raw(), dim, csel->raw());
    CHECK(get(*b.gpu, *gsel, dim) == get(b.cpu, *csel, dim));
  }
}

TEST_CASE("cuda: float matrix products (cuBLASLt), with and without bias, match the CPU", "[cuda]") {
  for (const ElementType type : activation_types()) {
    TwoBackends b(type);
    if (!b.gpu) return;
    const int64_t in = 512, out = 384;
    const auto w = rounded(random_values(out * in, 8, 0.05f), type);
    const auto bias = random_values(out, 9);
    auto gw = put(*b.gpu, w), gb = b.gpu->upload(std::span<const float>(bias));
    auto cw = b.cpu.upload(std::span<const float>(w)), cb = b.cpu.upload(std::span<const float>(bias));
    for (const int64_t rows : {1, 3, 8, 9, 64, 300}) {
      for (const bool with_bias : {false, true}) {
        INFO("activations " << element_type_name(type) << ", " << rows << " rows, bias " << with_bias);
        const auto x = rounded(random_values(rows * in, 10 + static_cast<uint32_t>(rows)), type);
        auto gx = put(*b.gpu, x), gy = b.gpu->allocate(type, rows * out);
        auto cx = b.cpu.upload(std::span<const float>(x)), cy = b.cpu.allocate(rows * out);
        b.gpu->linear(gx->raw(), rows, {gw->raw(), with_bias ? gb->data() : nullptr, out, in, type}, gy->raw());
        b.cpu.linear(cx->raw(), rows, {cw->raw(), with_bias ? cb->data() : nullptr, out, in, ElementType::f32}, cy->raw());
        CHECK(relative_error(get(*b.gpu, *gy, rows * out), get(b.cpu, *cy, rows * out)) < tolerance(type));

        auto gl = b.gpu->allocate(rows * out);
        auto cl = b.cpu.allocate(rows * out);
        if (!with_bias) {
          b.gpu->logits(gx->raw(), rows, {gw->raw(), nullptr, out, in, type}, gl->data());
          b.cpu.logits(cx->raw(), rows, {cw->raw(), nullptr, out, in, ElementType::f32}, cl->data());
          CHECK(relative_error(get(*b.gpu, *gl, rows * out), get(b.cpu, *cl, rows * out)) < tolerance(type));
        }
      }
    }
  }
}

namespace {

// A packed matrix of `out` rows of `in` (multiple of 32) with random scales and codes.
std::vector<std::byte> random_packed(ElementType type, int64_t out, int64_t in, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> bytes(element_bytes(type, out * in));
  const size_t block = element_block_bytes(type);
  std::uniform_int_distribution<int> byte(0, 255);
  for (size_t b = 0; b < bytes.size() / block; ++b) {
    std::byte* at = bytes.data() + b * block;
    const uint16_t d = f32_to_f16(0.002f + 0.001f * static_cast<float>(byte(rng)) / 255.0f);
    std::memcpy(at, &d, 2);
    size_t codes = 2;
    if (type == ElementType::q4_1) {
      const uint16_t m = f32_to_f16(-0.01f * static_cast<float>(byte(rng)) / 255.0f);
      std::memcpy(at + 2, &m, 2);
      codes = 4;
    }
    for (size_t i = codes; i < block; ++i) at[i] = static_cast<std::byte>(byte(rng));
  }
  return bytes;
}

}  // namespace

TEST_CASE("cuda: Q8_0 and Q4_1 matrices through the GEMV and the dequantised tiles match the CPU", "[cuda]") {
  for (const ElementType type : activation_types()) {
    TwoBackends b(type);
    if (!b.gpu) return;
    for (const ElementType packed : {ElementType::q8_0, ElementType::q4_1}) {
      const int64_t in = 1024, out = 640;
      const auto w = random_packed(packed, out, in, 11);
      const auto bias = random_values(out, 12);
      auto gw = b.gpu->upload(packed, out * in, w), gb = b.gpu->upload(std::span<const float>(bias));
      auto cw = b.cpu.upload(packed, out * in, w), cb = b.cpu.upload(std::span<const float>(bias));
      for (const int64_t rows : {1, 2, 8, 9, 100}) {
        INFO("activations " << element_type_name(type) << ", " << element_type_name(packed) << ", " << rows << " rows");
        const auto x = rounded(random_values(rows * in, 13 + static_cast<uint32_t>(rows)), type);
        auto gx = put(*b.gpu, x), gy = b.gpu->allocate(type, rows * out);
        auto cx = b.cpu.upload(std::span<const float>(x)), cy = b.cpu.allocate(rows * out);
        b.gpu->linear(gx->raw(), rows, {gw->raw(), gb->data(), out, in, packed}, gy->raw());
        b.cpu.linear(cx->raw(), rows, {cw->raw(), cb->data(), out, in, packed}, cy->raw());
        CHECK(relative_error(get(*b.gpu, *gy, rows * out), get(b.cpu, *cy, rows * out)) < tolerance(type));
        auto gl = b.gpu->allocate(rows * out);
        auto cl = b.cpu.allocate(rows * out);
        b.gpu->logits(gx->raw(), rows, {gw->raw(), nullptr, out, in, packed}, gl->data());
        b.cpu.logits(cx->raw(), rows, {cw->raw(), nullptr, out, in, packed}, cl->data());
        CHECK(relative_error(get(*b.gpu, *gl, rows * out), get(b.cpu, *cl, rows * out)) < tolerance(type));
      }
    }
  }
}

}  // namespace sabre::cuda_test
