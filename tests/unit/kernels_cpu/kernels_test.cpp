// Each CPU kernel against a naive, obviously-correct reference written here in double precision, on
// random inputs with awkward sizes (odd dimensions, one row and many, GQA, long contexts).

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "step_upload.hpp"
#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/quantized_gemv.hpp"
#include "kernels/cpu/thread_pool.hpp"

using namespace sabre;

namespace {

std::vector<float> random_values(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

float max_abs_diff(const std::vector<float>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return static_cast<float>(worst);
}

}  // namespace

TEST_CASE("linear: GEMM and GEMV paths, with and without bias", "[kernels]") {
  for (int64_t rows : {1, 3, 17}) {
    for (bool with_bias : {false, true}) {
      const int64_t in = 37, out = 29;
      auto x = random_values(static_cast<size_t>(rows * in), 1);
      auto w = random_values(static_cast<size_t>(out * in), 2);
      auto b = random_values(static_cast<size_t>(out), 3);
      std::vector<float> y(static_cast<size_t>(rows * out), 123.0f);  // garbage must be overwritten
      cpu::linear(x.data(), rows, in, w.data(), with_bias ? b.data() : nullptr, out, y.data());
      std::vector<double> ref(y.size());
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t o = 0; o < out; ++o) {
          double sum = with_bias ? b[o] : 0.0;
          for (int64_t i = 0; i < in; ++i) sum += double(x[r * in + i]) * w[o * in + i];
          ref[r * out + o] = sum;
        }
      }
      INFO("rows " << rows << " bias " << with_bias);
      CHECK(max_abs_diff(y, ref) < 1e-4f);
    }
  }
}

TEST_CASE("f32_gemv: row ranges, odd widths, the 4-row and 1-row paths", "[kernels]") {
  for (int64_t in : {1, 15, 16, 37, 576}) {
    const int64_t out = 11;
    auto w = random_values(static_cast<size_t>(out * in), 4);
    auto x = random_values(static_cast<size_t>(in), 5);
    std::vector<float> y(static_cast<size_t>(out - 2), 123.0f);
    cpu::f32_gemv(w.data(), in, x.data(), 2, out, y.data());  // rows 2..10: two 4-row passes and one single row
    std::vector<double> ref(y.size());
    for (int64_t o = 2; o < out; ++o) {
      double sum = 0;
      for (int64_t i = 0; i < in; ++i) sum += double(x[i]) * w[o * in + i];
      ref[o - 2] = sum;
    }
    INFO("in " << in);
    CHECK(max_abs_diff(y, ref) < 1e-4f);
  }
}

TEST_CASE("CpuBackend::linear fp32: pool-threaded GEMV for few rows, sgemm for many", "[kernels]") {
  for (unsigned threads : {1u, 3u}) {
    CpuBackend backend(threads);
    for (int64_t rows : {1, 4, 5}) {
      const int64_t in = 200, out = 333;
      auto x = random_values(static_cast<size_t>(rows * in), 6);
      auto w = random_values(static_cast<size_t>(out * in), 7);
      auto b = random_values(static_cast<size_t>(out), 8);
      std::vector<float> y(static_cast<size_t>(rows * out), 123.0f);
      backend.linear(x.data(), rows, LinearWeight{w.data(), b.data(), out, in}, y.data());
      std::vector<double> ref(y.size());
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t o = 0; o < out; ++o) {
          double sum = b[o];
          for (int64_t i = 0; i < in; ++i) sum += double(x[r * in + i]) * w[o * in + i];
          ref[r * out + o] = sum;
        }
      }
      INFO("threads " << threads << " rows " << rows);
      CHECK(max_abs_diff(y, ref) < 1e-4f);
    }
  }
}

TEST_CASE("rms_norm, also in place and with strides", "[kernels]") {
  const int64_t rows = 5, dim = 33;
  auto x = random_values(static_cast<size_t>(rows * dim), 4, 3.0f);
  auto weight = random_values(static_cast<size_t>(dim), 5);
  const float eps = 1e-5f;
  std::vector<double> ref(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < dim; ++i) ss += double(x[r * dim + i]) * x[r * dim + i];
    const double inv = 1.0 / std::sqrt(ss / dim + eps);
    for (int64_t i = 0; i < dim; ++i) ref[r * dim + i] = weight[i] * x[r * dim + i] * inv;
  }
  std::vector<float> y(x.size());
  cpu::rms_norm(x.data(), rows, dim, weight.data(), eps, y.data(), dim, dim);
  CHECK(max_abs_diff(y, ref) < 1e-5f);
  cpu::rms_norm(x.data(), rows, dim, weight.data(), eps, x.data(), dim, dim);
  CHECK(max_abs_diff(x, ref) < 1e-5f);
}

TEST_CASE("rope table and rotate_half rotation", "[kernels]") {
  const int64_t rows = 3, heads = 2, head_dim = 8, stride = 40, offset = 4;
  const std::vector<int32_t> positions = {0, 5, 1000};
  const std::vector<float> inv_freq = {1.0f, 0.1f, 0.01f, 0.001f};
  const float scaling = 1.5f;
  std::vector<float> table(static_cast<size_t>(rows * head_dim));
  cpu::rope_table(positions, inv_freq, scaling, table.data());
  auto x = random_values(static_cast<size_t>(rows * stride), 6);
  auto original = x;
  cpu::apply_rope(x.data(), rows, heads, head_dim, offset, stride, table.data());

  std::vector<double> ref(original.begin(), original.end());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < head_dim / 2; ++i) {
        const double angle = double(positions[r]) * inv_freq[i];
        const double c = std::cos(angle) * scaling, s = std::sin(angle) * scaling;
        const int64_t base = r * stride + offset + h * head_dim;
        const double a = original[base + i], b = original[base + i + head_dim / 2];
        ref[base + i] = a * c - b * s;
        ref[base + i + head_dim / 2] = b * c + a * s;
      }
    }
  }
  // fp32 angles at position 1000 lose a few ulps against the double reference.
  CHECK(max_abs_diff(x, ref) < 2e-4f);
}

TEST_CASE("silu_mul", "[kernels]") {
  const int64_t rows = 4, inter = 19;
  auto gate_up = random_values(static_cast<size_t>(rows * 2 * inter), 7, 4.0f);
  std::vector<float> out(static_cast<size_t>(rows * inter));
  cpu::silu_mul(gate_up.data(), rows, inter, out.data());
  std::vector<double> ref(out.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < inter; ++i) {
      const double g = gate_up[r * 2 * inter + i], u = gate_up[r * 2 * inter + inter + i];
      ref[r * inter + i] = g / (1 + std::exp(-g)) * u;
    }
  }
  CHECK(max_abs_diff(out, ref) < 1e-4f);
}

TEST_CASE("attention_head: causal softmax attention over a history", "[kernels]") {
  const int64_t head_dim = 12, kv_stride = 24, first_position = 9, rows = 4;
  const int64_t keys = first_position + rows;
  auto q = random_values(static_cast<size_t>(rows * head_dim), 8);
  auto k = random_values(static_cast<size_t>(keys * kv_stride), 9);
  auto v = random_values(static_cast<size_t>(keys * kv_stride), 10);
  const float scale = 0.3f;
  std::vector<float> out(static_cast<size_t>(rows * head_dim));
  std::vector<float> scratch(static_cast<size_t>(keys));
  cpu::attention_head(q.data(), head_dim, rows, first_position, k.data(), v.data(), kv_stride, head_dim, scale,
                      out.data(), head_dim, scratch.data());
  std::vector<double> ref(out.size());
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t visible = first_position + i + 1;
    std::vector<double> p(static_cast<size_t>(visible));
    double mx = -1e300, total = 0;
    for (int64_t j = 0; j < visible; ++j) {
      double dot = 0;
      for (int64_t d = 0; d < head_dim; ++d) dot += double(q[i * head_dim + d]) * k[j * kv_stride + d];
      p[j] = dot * scale;
      mx = std::max(mx, p[j]);
    }
    for (auto& e : p) total += (e = std::exp(e - mx));
    for (int64_t d = 0; d < head_dim; ++d) {
      double acc = 0;
      for (int64_t j = 0; j < visible; ++j) acc += p[j] / total * v[j * kv_stride + d];
      ref[i * head_dim + d] = acc;
    }
  }
  CHECK(max_abs_diff(out, ref) < 1e-5f);
}

TEST_CASE("CpuBackend paged attention with GQA over two sequences matches per-head kernels", "[kernels]") {
  CpuBackend backend(3);
  const int64_t heads = 4, kv_heads = 2, head_dim = 8;
  const int64_t q_dim = heads * head_dim, kv_dim = kv_heads * head_dim, stride = q_dim + 2 * kv_dim;
  const HeadLayout q{heads, head_dim, 0, stride}, k{kv_heads, head_dim, q_dim, stride},
      v{kv_heads, head_dim, q_dim + kv_dim, stride};
  // One pool of 16 blocks of 4 tokens. Sequence A: 6 tokens in one step in blocks 5 and 0. Sequence B:
  // 3 tokens, then 1 more in a second step, in block 9.
  auto pool = backend.create_kv_cache({1, kv_heads, head_dim, 4, 16});
  const std::vector<int32_t> table_a = {5, 0}, table_b = {9};
  auto x = random_values(static_cast<size_t>(9 * stride), 11);
  ForwardBatch step1;
  std::vector<int32_t> ids(9, 0);
  step1.add_sequence(std::span(ids).first(6), 0, pool.get(), table_a, false);
  step1.add_sequence(std::span(ids).first(3), 0, pool.get(), table_b, false);
  std::vector<float> out(static_cast<size_t>(9 * q_dim));
  upload_batch(backend, step1);
  backend.store_kv(0, x.data(), k, v);
  backend.attention(0, x.data(), q, 0.25f, out.data());

  // Reference for sequence B's rows (6..8): each q head h against kv head h / 2 over B's own keys.
  for (int64_t h = 0; h < heads; ++h) {
    const int64_t kvh = h / 2;
    std::vector<float> expect(static_cast<size_t>(3 * head_dim)), scratch(16);
    const float* xb = x.data() + 6 * stride;
    cpu::attention_head(xb + h * head_dim, stride, 3, 0, xb + q_dim + kvh * head_dim,
                        xb + q_dim + kv_dim + kvh * head_dim, stride, head_dim, 0.25f, expect.data(), head_dim,
                        scratch.data());
    for (int64_t r = 0; r < 3; ++r) {
      for (int64_t d = 0; d < head_dim; ++d) {
        CHECK(out[(6 + r) * q_dim + h * head_dim + d] == Approx(expect[r * head_dim + d]).margin(1e-5));
      }
    }
  }

  // Second step for B: one new token attends to its 3 cached keys plus itself.
  auto x2 = random_values(static_cast<size_t>(stride), 12);
  ForwardBatch step2;
  step2.add_sequence(std::span(ids).first(1), 3, pool.get(), table_b, false);
  std::vector<float> out2(static_cast<size_t>(q_dim));
  upload_batch(backend, step2);
  backend.store_kv(0, x2.data(), k, v);
  backend.attention(0, x2.data(), q, 0.25f, out2.data());
  std::vector<float> keys(static_cast<size_t>(4 * kv_dim)), values(keys.size());
  for (int64_t t = 0; t < 4; ++t) {
    const float* src = t < 3 ? x.data() + (6 + t) * stride : x2.data();
    std::copy(src + q_dim, src + q_dim + kv_dim, keys.begin() + t * kv_dim);
    std::copy(src + q_dim + kv_dim, src + q_dim + 2 * kv_dim, values.begin() + t * kv_dim);
  }
  for (int64_t h = 0; h < heads; ++h) {
    std::vector<float> expect(static_cast<size_t>(head_dim)), scratch(16);
    cpu::attention_head(x2.data() + h * head_dim, stride, 1, 3, keys.data() + (h / 2) * head_dim,
                        values.data() + (h / 2) * head_dim, kv_dim, head_dim, 0.25f, expect.data(), head_dim,
                        scratch.data());
    for (int64_t d = 0; d < head_dim; ++d) CHECK(out2[h * head_dim + d] == Approx(expect[d]).margin(1e-5));
  }

  // Writing past the block table, or into a block outside the pool, is an error, not a silent overwrite.
  ForwardBatch too_long;
  std::vector<int32_t> many(9, 0);
  too_long.add_sequence(many, 0, pool.get(), table_a, false);
  std::vector<float> big(static_cast<size_t>(9 * stride));
  CHECK_THROWS_WITH(upload_batch(backend, too_long),
                    Catch::Contains("need 3 blocks of 4") && Catch::Contains("table has 2"));
  ForwardBatch outside;
  const std::vector<int32_t> bad_table = {16};
  outside.add_sequence(std::span(ids).first(1), 0, pool.get(), bad_table, false);
  CHECK_THROWS_WITH(upload_batch(backend, outside), Catch::Contains("pool of 16 blocks"));
}

TEST_CASE("ThreadPool runs every index once and propagates exceptions", "[kernels]") {
  ThreadPool pool(3);
  CHECK(pool.concurrency() == 4);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::atomic<int>> hits(97);
    pool.parallel_for(97, [&](int64_t i) { hits[static_cast<size_t>(i)]++; });
    for (auto& h : hits) REQUIRE(h.load() == 1);
  }
  CHECK_THROWS_WITH(pool.parallel_for(10, [](int64_t i) {
    if (i == 7) throw std::runtime_error("boom at 7");
  }), "boom at 7");
  // After an exception, and after pauses long enough for the workers to stop spinning and sleep, every
  // loop still runs each index once.
  for (int round = 0; round < 20; ++round) {
    if (round % 5 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::vector<std::atomic<int>> hits(round + 2);
    pool.parallel_for(round + 2, [&](int64_t i) { hits[static_cast<size_t>(i)]++; });
    for (auto& h : hits) REQUIRE(h.load() == 1);
  }
  // Thousands of loops a few microseconds apart, as a decode step issues them.
  std::atomic<int64_t> total{0};
  for (int round = 0; round < 5000; ++round) pool.parallel_for(8, [&](int64_t i) { total += i; });
  CHECK(total.load() == 5000 * 28);
  ThreadPool inline_pool(0);
  int sum = 0;
  inline_pool.parallel_for(5, [&](int64_t i) { sum += static_cast<int>(i); });
  CHECK(sum == 10);
}
