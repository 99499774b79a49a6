#include "model/profile_step.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace sabre {

void run_profile_step(Transformer& model) {
  const StepLimits& limits = model.limits();
  constexpr int64_t kBlock = 16;
  const int64_t rows = limits.max_tokens;
  const int64_t longest = limits.max_blocks_per_sequence * kBlock;
  const int64_t wanted = std::max((rows + longest - 1) / longest, std::min(limits.max_sequences, limits.max_logit_rows));
  const int64_t sequences = std::clamp<int64_t>(wanted, 1, rows);

  std::vector<std::vector<int32_t>> tokens(static_cast<size_t>(sequences));
  int64_t blocks = 0;
  for (int64_t s = 0; s < sequences; ++s) {
    const int64_t n = rows / sequences + (s < rows % sequences ? 1 : 0);
    tokens[static_cast<size_t>(s)].assign(static_cast<size_t>(n), 0);
    for (int64_t i = 0; i < n; ++i) tokens[static_cast<size_t>(s)][static_cast<size_t>(i)] = static_cast<int32_t>(i % 7);
    blocks += (n + kBlock - 1) / kBlock;
  }
  std::unique_ptr<KvCache> pool = model.create_kv_cache(blocks, kBlock);
  ForwardBatch batch;
  int32_t next_block = 0;
  for (const auto& t : tokens) {
    std::vector<int32_t> table;
    for (int64_t b = 0; b < (static_cast<int64_t>(t.size()) + kBlock - 1) / kBlock; ++b) table.push_back(next_block++);
    batch.add_sequence(t, 0, pool.get(), table, true);
  }
  model.forward(batch);

  // Greedy samplers under keys no sequence uses, released at once.
  std::vector<SamplerSpec> specs;
  std::vector<SampleRow> sample_rows;
  std::vector<uint64_t> keys;
  for (int64_t s = 0; s < sequences; ++s) {
    const uint64_t key = std::numeric_limits<uint64_t>::max() - static_cast<uint64_t>(s);
    SamplerSpec spec;
    spec.key = key;
    spec.params.temperature = 0;
    specs.push_back(spec);
    sample_rows.push_back({static_cast<int32_t>(s), key, false, {}});
    keys.push_back(key);
  }
  model.backend().add_samplers(specs);
  std::vector<SampledToken> out;
  model.sample(sample_rows, out);
  model.backend().release_samplers(keys);
}

}  // namespace sabre
