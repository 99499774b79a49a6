// The paged attention kernel and CpuBackend's block pool: results against a double-precision reference
// over scattered block tables, and the batch-invariance promise checked bit for bit (memcmp): a query's
// output may not depend on the queries it is tiled with, the block ids or block size holding its
// sequence, how its prompt was chunked, what else shares the step, or the thread count.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_backend.hpp"
#include "step_upload.hpp"
#include "kernels/cpu/paged_attention.hpp"

using namespace sabre;

namespace {

std::vector<float> random_values(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

bool same_bits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// A pool of one kv head's keys and values laid out as the CPU backend does ([block][slot][row_stride]),
// holding `tokens` positions through a table of shuffled block ids.
struct TestPool {
  int64_t block_size, row_stride;
  std::vector<int32_t> table;
  std::vector<float> keys, values;

  TestPool(const std::vector<float>& k, const std::vector<float>& v, int64_t tokens, int64_t head_dim,
           int64_t block_size_, int64_t row_stride_, uint32_t seed)
      : block_size(block_size_), row_stride(row_stride_) {
    const int64_t blocks = (tokens + block_size - 1) / block_size;
    const int64_t pool_blocks = 2 * blocks + 1;
    std::vector<int32_t> ids(static_cast<size_t>(pool_blocks));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), std::mt19937(seed));
    table.assign(ids.begin(), ids.begin() + blocks);
    // Unused slots hold garbage that must never be read.
    keys = random_values(static_cast<size_t>(pool_blocks * block_size * row_stride), seed + 100, 50.0f);
    values = random_values(keys.size(), seed + 200, 50.0f);
    const cpu::PagedKvHead view = head();
    for (int64_t p = 0; p < tokens; ++p) {
      std::copy_n(k.begin() + p * head_dim, head_dim, keys.begin() + view.slot_offset(p));
      std::copy_n(v.begin() + p * head_dim, head_dim, values.begin() + view.slot_offset(p));
    }
  }
  cpu::PagedKvHead head() const { return {keys.data(), values.data(), table.data(), block_size, row_stride}; }
};

// softmax(q . k * scale) . v in double over the first `visible` rows of contiguous k and v.
std::vector<double> reference(const float* q, int64_t visible, const std::vector<float>& k,
                              const std::vector<float>& v, int64_t head_dim, float scale) {
  std::vector<double> p(static_cast<size_t>(visible));
  double max = -1e300, total = 0;
  for (int64_t j = 0; j < visible; ++j) {
    double dot = 0;
    for (int64_t d = 0; d < head_dim; ++d) dot += double(q[d]) * k[j * head_dim + d];
    p[j] = dot * scale;
    max = std::max(max, p[j]);
  }
  for (auto& e : p) total += (e = std::exp(e - max));
  std::vector<double> out(static_cast<size_t>(head_dim), 0.0);
  for (int64_t j = 0; j < visible; ++j) {
    for (int64_t d = 0; d < head_dim; ++d) out[d] += p[j] / total * v[j * head_dim + d];
  }
  return out;
}

}  // namespace

TEST_CASE("paged_attention matches a double reference over scattered blocks", "[kernels][paged]") {
  for (int64_t head_dim : {8, 16, 64, 12}) {
    for (int64_t block_size : {16, 4, 1, 5}) {
      const int64_t tokens = 77, row_stride = head_dim * 3;
      const auto k = random_values(static_cast<size_t>(tokens * head_dim), 1);
      const auto v = random_values(k.size(), 2);
      const TestPool pool(k, v, tokens, head_dim, block_size, row_stride, 7);
      // Eleven queries with assorted visible lengths (tiles of 4, 4 and 3 with ragged tails).
      const std::vector<int64_t> visible = {1, 77, 2, 40, 16, 17, 33, 5, 64, 65, 8};
      const auto q = random_values(visible.size() * static_cast<size_t>(head_dim), 3);
      std::vector<float> out(q.size(), 0.0f);
      std::vector<cpu::AttentionQuery> queries;
      for (size_t i = 0; i < visible.size(); ++i) {
        queries.push_back({q.data() + i * head_dim, visible[i], out.data() + i * head_dim});
      }
      std::vector<float> scratch(static_cast<size_t>(cpu::paged_attention_scratch_floats(queries)));
      cpu::paged_attention(queries, pool.head(), head_dim, 0.3f, scratch.data());
      double worst = 0;
      for (size_t i = 0; i < visible.size(); ++i) {
        const auto want = reference(q.data() + i * head_dim, visible[i], k, v, head_dim, 0.3f);
        for (int64_t d = 0; d < head_dim; ++d) worst = std::max(worst, std::abs(out[i * head_dim + d] - want[d]));
      }
      INFO("head_dim " << head_dim << ", block size " << block_size << ": worst difference " << worst);
      CHECK(worst < 2e-6);
    }
  }
}

TEST_CASE("paged_attention gives each query the same bits in any tile, block layout or order", "[kernels][paged]") {
  for (int64_t head_dim : {64, 16, 12}) {
    const int64_t tokens = 150;
    const auto k = random_values(static_cast<size_t>(tokens * head_dim), 11);
    const auto v = random_values(k.size(), 12);
    const TestPool pool16(k, v, tokens, head_dim, 16, head_dim * 2, 3);
    const TestPool pool4(k, v, tokens, head_dim, 4, head_dim, 4);
    const TestPool pool1(k, v, tokens, head_dim, 1, head_dim * 5, 5);
    const std::vector<int64_t> visible = {150, 149, 148, 1, 100, 101, 3, 17, 16};
    const auto n = visible.size();
    const auto q = random_values(n * static_cast<size_t>(head_dim), 13);
    // Room for the scores of all queries seeing every key.
    std::vector<float> scratch(n * static_cast<size_t>(tokens + 8));
    const auto dim = static_cast<size_t>(head_dim);

    // Each query alone, through the 16-token layout: the reference bits.
    std::vector<float> alone(n * dim);
    for (size_t i = 0; i < n; ++i) {
      const cpu::AttentionQuery one[] = {{q.data() + i * dim, visible[i], alone.data() + i * dim}};
      cpu::paged_attention(one, pool16.head(), head_dim, 0.2f, scratch.data());
    }
    // All at once (tiles of 4, 4, 1), in reverse order (other tile partners), and through other layouts.
    const auto run = [&](const TestPool& pool, bool reversed) {
      std::vector<float> out(n * dim);
      std::vector<cpu::AttentionQuery> queries;
      for (size_t i = 0; i < n; ++i) {
        const size_t at = reversed ? n - 1 - i : i;
        queries.push_back({q.data() + at * dim, visible[at], out.data() + at * dim});
      }
      cpu::paged_attention(queries, pool.head(), head_dim, 0.2f, scratch.data());
      return out;
    };
    INFO("head_dim " << head_dim);
    CHECK(same_bits(run(pool16, false).data(), alone.data(), alone.size()));
    CHECK(same_bits(run(pool16, true).data(), alone.data(), alone.size()));
    CHECK(same_bits(run(pool4, false).data(), alone.data(), alone.size()));
    CHECK(same_bits(run(pool1, true).data(), alone.data(), alone.size()));
  }
}

namespace {

// A (qkv row) layout for the backend tests: 6 q heads over 2 kv heads of 16 dims.
constexpr int64_t kHeads = 6, kKvHeads = 2, kHeadDim = 16;
constexpr int64_t kQDim = kHeads * kHeadDim, kKvDim = kKvHeads * kHeadDim, kStride = kQDim + 2 * kKvDim;
const HeadLayout kQ{kHeads, kHeadDim, 0, kStride}, kK{kKvHeads, kHeadDim, kQDim, kStride},
    kV{kKvHeads, kHeadDim, kQDim + kKvDim, kStride};

// One step of sequences through store_kv + attention at `layer`; x holds the steps' qkv rows.
std::vector<float> attend(CpuBackend& backend, const ForwardBatch& batch, const std::vector<float>& x,
                          int64_t layer = 0) {
  std::vector<float> out(static_cast<size_t>(batch.rows() * kQDim));
  upload_batch(backend, batch);
  backend.store_kv(layer, x.data(), kK, kV);
  backend.attention(layer, x.data(), kQ, 0.25f, out.data());
  return out;
}

// Rows first..first+n of a sequence's qkv rows.
std::vector<float> rows_of(const std::vector<float>& x, int64_t first, int64_t n) {
  return {x.begin() + first * kStride, x.begin() + (first + n) * kStride};
}

}  // namespace

TEST_CASE("batch-invariant CpuBackend attention: a sequence's output bits do not depend on the step",
          "[kernels][paged]") {
  const int64_t length = 90;  // past the 24-row matrix-product threshold and the 64-query task size
  const auto x = random_values(static_cast<size_t>(length * kStride), 31);
  const auto other = random_values(static_cast<size_t>(60 * kStride), 32);
  const std::vector<int32_t> ids(static_cast<size_t>(length), 0);

  // The reference: the whole sequence as one chunk, identity table, blocks of 16, one thread.
  CpuBackend one_thread(CpuBackendOptions{.threads = 1, .batch_invariant = true});
  auto pool16 = one_thread.create_kv_cache({1, kKvHeads, kHeadDim, 16, 8});
  const std::vector<int32_t> identity = {0, 1, 2, 3, 4, 5};
  ForwardBatch whole;
  whole.add_sequence(ids, 0, pool16.get(), identity, false);
  const std::vector<float> expect = attend(one_thread, whole, x);

  CpuBackend threaded(CpuBackendOptions{.threads = 3, .batch_invariant = true});
  for (CpuBackend* backend : {&one_thread, &threaded}) {
    const unsigned threads = backend->threads();
    // Scattered blocks of 4 in a pool shared with another sequence.
    auto pool = backend->create_kv_cache({1, kKvHeads, kHeadDim, 4, 64});
    std::vector<int32_t> table(23), other_table(15);
    std::vector<int32_t> shuffled(64);
    std::iota(shuffled.begin(), shuffled.end(), 0);
    std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(threads));
    std::copy_n(shuffled.begin(), 23, table.begin());
    std::copy_n(shuffled.begin() + 23, 15, other_table.begin());

    SECTION("one chunk, " + std::to_string(threads) + " threads") {
      ForwardBatch batch;
      batch.add_sequence(ids, 0, pool.get(), table, false);
      const auto got = attend(*backend, batch, x);
      CHECK(same_bits(got.data(), expect.data(), expect.size()));
    }
    SECTION("chunks of 7, 30 and 53 beside another sequence's prefill and decodes, " + std::to_string(threads) +
            " threads") {
      int64_t start = 0, other_done = 0;
      for (int64_t n : {7, 30, 53}) {
        ForwardBatch batch;
        // The other sequence goes first: this one's rows sit at a different offset in every step.
        const int64_t other_rows = other_done == 0 ? 40 : 1;
        batch.add_sequence(std::span(ids).first(static_cast<size_t>(other_rows)), other_done, pool.get(), other_table,
                           false);
        batch.add_sequence(std::span(ids).first(static_cast<size_t>(n)), start, pool.get(), table, false);
        std::vector<float> step_x = rows_of(other, other_done, other_rows);
        const auto mine = rows_of(x, start, n);
        step_x.insert(step_x.end(), mine.begin(), mine.end());
        const auto got = attend(*backend, batch, step_x);
        INFO("chunk at " << start);
        CHECK(same_bits(got.data() + other_rows * kQDim, expect.data() + start * kQDim, static_cast<size_t>(n * kQDim)));
        start += n;
        other_done += other_rows;
      }
    }
    SECTION("token by token, " + std::to_string(threads) + " threads") {
      bool all_same = true;
      for (int64_t p = 0; p < length; ++p) {
        ForwardBatch batch;
        batch.add_sequence(std::span(ids).first(1), p, pool.get(), table, false);
        const auto got = attend(*backend, batch, rows_of(x, p, 1));
        all_same = all_same && same_bits(got.data(), expect.data() + p * kQDim, static_cast<size_t>(kQDim));
      }
      CHECK(all_same);
    }
  }
}

TEST_CASE("default-mode CpuBackend attention is the same paged kernel for long chunks", "[kernels][paged]") {
  const int64_t length = 600;
  const auto x = random_values(static_cast<size_t>(length * kStride), 41);
  const std::vector<int32_t> ids(static_cast<size_t>(length), 0);
  std::vector<int32_t> table(200);
  std::iota(table.begin(), table.end(), 0);
  std::shuffle(table.begin(), table.end(), std::mt19937(41));
  table.resize(150);
  CpuBackend fast(CpuBackendOptions{.threads = 2});
  CpuBackend invariant(CpuBackendOptions{.threads = 1, .batch_invariant = true});
  auto fast_pool = fast.create_kv_cache({1, kKvHeads, kHeadDim, 4, 200});
  auto invariant_pool = invariant.create_kv_cache({1, kKvHeads, kHeadDim, 4, 150});
  ForwardBatch a, b;
  a.add_sequence(ids, 0, fast_pool.get(), table, false);
  b.add_sequence(ids, 0, invariant_pool.get(), identity_block_table(150), false);
  const auto got = attend(fast, a, x);
  const auto want = attend(invariant, b, x);
  CHECK(same_bits(got.data(), want.data(), got.size()));
}

TEST_CASE("copy_kv_blocks copies every layer's keys and values of a block", "[kernels][paged]") {
  CpuBackend backend(CpuBackendOptions{.threads = 1});
  const int64_t layers = 3, length = 7;
  auto pool = backend.create_kv_cache({layers, kKvHeads, kHeadDim, 4, 16});
  CHECK(backend.kv_block_bytes(pool->shape()) == size_t{2 * layers * 4 * kKvDim * 4});
  const std::vector<int32_t> ids(length, 0);
  const std::vector<int32_t> table = {3, 7}, copied = {10, 12};
  const auto x = random_values(static_cast<size_t>(length * kStride), 51);
  ForwardBatch write;
  write.add_sequence(ids, 0, pool.get(), table, false);
  std::vector<std::vector<float>> expect;
  for (int64_t layer = 0; layer < layers; ++layer) expect.push_back(attend(backend, write, x, layer));

  const KvBlockCopy copies[] = {{3, 10}, {7, 12}};
  backend.copy_kv_blocks(*pool, copies);
  // Reading the copies (and only attention, no store) gives the same bits in every layer.
  ForwardBatch read;
  read.add_sequence(ids, 0, pool.get(), copied, false);
  for (int64_t layer = 0; layer < layers; ++layer) {
    std::vector<float> out(static_cast<size_t>(length * kQDim));
    upload_batch(backend, read);
    backend.attention(layer, x.data(), kQ, 0.25f, out.data());
    INFO("layer " << layer);
    CHECK(same_bits(out.data(), expect[static_cast<size_t>(layer)].data(), out.size()));
  }
  // Blocks never written differ (the check above can fail).
  ForwardBatch unwritten;
  const std::vector<int32_t> fresh = {10, 13};
  unwritten.add_sequence(ids, 0, pool.get(), fresh, false);
  std::vector<float> out(static_cast<size_t>(length * kQDim));
  upload_batch(backend, unwritten);
  backend.attention(0, x.data(), kQ, 0.25f, out.data());
  CHECK_FALSE(same_bits(out.data(), expect[0].data(), out.size()));

  const KvBlockCopy outside[] = {{3, 16}};
  CHECK_THROWS_WITH(backend.copy_kv_blocks(*pool, outside), Catch::Contains("3 -> 16") &&
                                                                 Catch::Contains("pool of 16 blocks"));
  CHECK_THROWS_AS(backend.create_kv_cache({layers, kKvHeads, kHeadDim, 4, 0}), std::invalid_argument);
}
