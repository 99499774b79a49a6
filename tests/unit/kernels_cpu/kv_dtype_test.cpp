// KV caches of bf16, f16, int8 and fp8 (e4m3) on the CPU backend: a 16-bit cache computes exactly what an
// fp32 cache holding the rounded keys and values computes; the 8-bit caches stay within their
// quantisation error of a double-precision reference; every type keeps the batch-invariance promise
// (one chunk or token by token: the same bits) and copy-on-write copies carry the scales; block sizes
// count the real bytes; e4m3 encodes to nearest even and saturates.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include <immintrin.h>

#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cpu/kv_store.hpp"
#include "kernels/float16.hpp"
#include "kernels/float8.hpp"
#include "step_upload.hpp"

using namespace sabre;

namespace {

constexpr int64_t kHeads = 4, kKvHeads = 2, kHeadDim = 16;
constexpr int64_t kQDim = kHeads * kHeadDim, kKvDim = kKvHeads * kHeadDim, kStride = kQDim + 2 * kKvDim;
const HeadLayout kQ{kHeads, kHeadDim, 0, kStride}, kK{kKvHeads, kHeadDim, kQDim, kStride},
    kV{kKvHeads, kHeadDim, kQDim + kKvDim, kStride};

std::vector<float> random_values(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Runs `rows` qkv rows of one sequence through store_kv + attention in steps of the given sizes.
std::vector<float> attend(CpuBackend& backend, KvCache& pool, const std::vector<int32_t>& table,
                          const std::vector<float>& x, const std::vector<int64_t>& steps) {
  const int64_t rows = static_cast<int64_t>(x.size()) / kStride;
  std::vector<float> out(static_cast<size_t>(rows * kQDim));
  const std::vector<int32_t> ids(static_cast<size_t>(rows), 0);
  int64_t start = 0;
  for (int64_t n : steps) {
    ForwardBatch batch;
    batch.add_sequence(std::span(ids).subspan(static_cast<size_t>(start), static_cast<size_t>(n)), start, &pool,
                       table, false);
    upload_batch(backend, batch);
    const std::vector<float> step_x(x.begin() + start * kStride, x.begin() + (start + n) * kStride);
    std::vector<float> step_out(static_cast<size_t>(n * kQDim));
    backend.store_kv(0, step_x.data(), kK, kV);
    backend.attention(0, step_x.data(), kQ, 0.25f, step_out.data());
    std::copy(step_out.begin(), step_out.end(), out.begin() + start * kQDim);
    start += n;
  }
  return out;
}

// The keys and values of `x` rounded the way a 16-bit cache stores them.
std::vector<float> with_rounded_kv(std::vector<float> x, ElementType type) {
  for (size_t r = 0; r < x.size() / kStride; ++r) {
    for (int64_t i = kQDim; i < kStride; ++i) {
      float& v = x[r * kStride + static_cast<size_t>(i)];
      if (type == ElementType::bf16) {
        const uint32_t bits = static_cast<uint32_t>(f32_to_bf16(v)) << 16;
        std::memcpy(&v, &bits, 4);
      } else {
        v = _cvtsh_ss(f32_to_f16(v));
      }
    }
  }
  return x;
}

// softmax(q . k * 0.25) . v in double for every row and head, causal.
std::vector<double> reference(const std::vector<float>& x) {
  const int64_t rows = static_cast<int64_t>(x.size()) / kStride;
  std::vector<double> out(static_cast<size_t>(rows * kQDim));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t h = 0; h < kHeads; ++h) {
      const int64_t kvh = h / (kHeads / kKvHeads);
      std::vector<double> p(static_cast<size_t>(r + 1));
      double max = -1e300, total = 0;
      for (int64_t j = 0; j <= r; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < kHeadDim; ++d) {
          dot += double(x[r * kStride + h * kHeadDim + d]) * x[j * kStride + kQDim + kvh * kHeadDim + d];
        }
        p[j] = dot * 0.25;
        max = std::max(max, p[j]);
      }
      for (auto& e : p) total += (e = std::exp(e - max));
      for (int64_t d = 0; d < kHeadDim; ++d) {
        double acc = 0;
        for (int64_t j = 0; j <= r; ++j) acc += p[j] / total * x[j * kStride + kQDim + kKvDim + kvh * kHeadDim + d];
        out[r * kQDim + h * kHeadDim + d] = acc;
      }
    }
  }
  return out;
}

struct Setup {
  CpuBackend backend{CpuBackendOptions{.threads = 2, .batch_invariant = true}};
  std::vector<int32_t> table;
  std::vector<float> x;
  static constexpr int64_t kRows = 90, kBlockSize = 4, kPoolBlocks = 64;
  Setup() : table(23), x(random_values(static_cast<size_t>(kRows * kStride), 5)) {
    std::vector<int32_t> shuffled(kPoolBlocks);
    std::iota(shuffled.begin(), shuffled.end(), 0);
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(9));
    std::copy_n(shuffled.begin(), table.size(), table.begin());
  }
  std::unique_ptr<KvCache> pool(ElementType type) {
    return backend.create_kv_cache({1, kKvHeads, kHeadDim, kBlockSize, kPoolBlocks, type});
  }
};

}  // namespace

TEST_CASE("a 16-bit KV cache computes the bits of an fp32 cache holding its rounded values", "[kernels][kv]") {
  Setup s;
  for (ElementType type : {ElementType::bf16, ElementType::f16}) {
    INFO(element_type_name(type));
    auto typed = s.pool(type);
    auto f32 = s.pool(ElementType::f32);
    const auto got = attend(s.backend, *typed, s.table, s.x, {7, 30, 53});
    const auto want = attend(s.backend, *f32, s.table, with_rounded_kv(s.x, type), {7, 30, 53});
    CHECK(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("8-bit KV caches stay within their quantisation error of a double reference", "[kernels][kv]") {
  Setup s;
  const auto want = reference(s.x);
  for (auto [type, bound] : {std::pair{ElementType::f32, 1e-5}, std::pair{ElementType::bf16, 2e-2},
                             std::pair{ElementType::i8, 2e-2}, std::pair{ElementType::fp8_e4m3, 8e-2}}) {
    INFO(element_type_name(type));
    auto pool = s.pool(type);
    const auto got = attend(s.backend, *pool, s.table, s.x, {90});
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
    INFO("worst absolute error " << worst << " (values of order 1)");
    CHECK(worst < bound);
    if (type != ElementType::f32) CHECK(worst > 1e-6);  // really quantised: the check above can fail
  }
}

TEST_CASE("every KV type keeps a sequence's bits whether it runs in one chunk or token by token", "[kernels][kv]") {
  Setup s;
  for (ElementType type : {ElementType::bf16, ElementType::f16, ElementType::i8, ElementType::fp8_e4m3}) {
    INFO(element_type_name(type));
    auto a = s.pool(type);
    auto b = s.pool(type);
    const auto whole = attend(s.backend, *a, s.table, s.x, {90});
    const auto tokens = attend(s.backend, *b, s.table, s.x, std::vector<int64_t>(90, 1));
    CHECK(std::memcmp(whole.data(), tokens.data(), whole.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("copy_kv_blocks carries an 8-bit cache's scales", "[kernels][kv]") {
  Setup s;
  auto pool = s.pool(ElementType::i8);
  const std::vector<float> x(s.x.begin(), s.x.begin() + 8 * kStride);
  const std::vector<int32_t> table = {3, 7}, copied = {10, 12};
  const auto expect = attend(s.backend, *pool, table, x, {8});
  const KvBlockCopy copies[] = {{3, 10}, {7, 12}};
  s.backend.copy_kv_blocks(*pool, copies);
  ForwardBatch read;
  const std::vector<int32_t> ids(8, 0);
  read.add_sequence(ids, 0, pool.get(), copied, false);
  upload_batch(s.backend, read);
  std::vector<float> out(static_cast<size_t>(8 * kQDim));
  s.backend.attention(0, x.data(), kQ, 0.25f, out.data());
  CHECK(std::memcmp(out.data(), expect.data(), out.size() * sizeof(float)) == 0);
}

TEST_CASE("KV block sizes count the real bytes of each type, scales included", "[kernels][kv]") {
  CpuBackend backend(1);
  const auto bytes = [&](ElementType type) { return backend.kv_block_bytes({3, 2, 16, 4, 0, type}); };
  CHECK(bytes(ElementType::f32) == 2 * 3 * 4 * 32 * 4);
  CHECK(bytes(ElementType::bf16) == 2 * 3 * 4 * 32 * 2);
  CHECK(bytes(ElementType::f16) == 2 * 3 * 4 * 32 * 2);
  CHECK(bytes(ElementType::i8) == 2 * 3 * (4 * 32 + 4 * 2 * 4));
  CHECK(bytes(ElementType::fp8_e4m3) == 2 * 3 * (4 * 32 + 4 * 2 * 4));
  CHECK_THROWS_WITH(backend.create_kv_cache({3, 2, 16, 4, 8, ElementType::q8_0}), Catch::Contains("KV cache of q8_0"));
}

TEST_CASE("e4m3 encodes to nearest even, saturates at 448 and round-trips every code", "[kernels][kv]") {
  for (int b = 0; b < 256; ++b) {
    if ((b & 0x7F) == 0x7F) continue;  // NaN
    const auto code = static_cast<uint8_t>(b);
    INFO("code " << b);
    const float value = e4m3_to_float(code);
    const uint8_t back = float_to_e4m3(value);
    // +0 and -0 are distinct codes; everything else maps back to itself.
    CHECK((back == code || (value == 0.0f && (back & 0x7F) == 0)));
  }
  CHECK(e4m3_to_float(0x7E) == 448.0f);
  CHECK(float_to_e4m3(1e6f) == 0x7E);
  CHECK(float_to_e4m3(-500.0f) == 0xFE);
  CHECK(e4m3_to_float(0x01) == std::ldexp(1.0f, -9));          // smallest subnormal
  CHECK(float_to_e4m3(std::ldexp(1.0f, -10)) == 0x00);          // a tie below it: to even (0)
  CHECK(float_to_e4m3(std::ldexp(3.0f, -10)) == 0x02);          // 1.5 * 2^-9: to even (2)
  CHECK(float_to_e4m3(1.0625f) == 0x38);                        // halfway 1 and 1.125: to even (1)
  CHECK(float_to_e4m3(1.1875f) == 0x3A);                        // halfway 1.125 and 1.25: to even (1.25)
}
