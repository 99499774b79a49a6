#include "model/tensor_parallel.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace sabre {

ShardPlan plan_shard(const ModelConfig& c, int rank, int size) {
  if (size < 1 || rank < 0 || rank >= size) {
    throw std::invalid_argument(fmt::format("tensor parallelism: rank {} of {}", rank, size));
  }
  const auto n = static_cast<int64_t>(size);
  if (c.num_attention_heads % n != 0) {
    throw std::invalid_argument(fmt::format(
        "--tensor-parallel-size {}: the model's {} attention heads do not divide among {} ranks (use a divisor of {})",
        size, c.num_attention_heads, size, c.num_attention_heads));
  }
  if (c.num_key_value_heads >= n ? c.num_key_value_heads % n != 0 : n % c.num_key_value_heads != 0) {
    throw std::invalid_argument(fmt::format(
        "--tensor-parallel-size {}: the model's {} kv heads neither divide among {} ranks nor divide them", size,
        c.num_key_value_heads, size));
  }
  if (c.intermediate_size % n != 0) {
    throw std::invalid_argument(fmt::format(
        "--tensor-parallel-size {}: the model's intermediate_size {} does not divide among {} ranks", size,
        c.intermediate_size, size));
  }
  ShardPlan p;
  p.rank = rank;
  p.size = size;
  p.q_heads = c.num_attention_heads / n;
  p.q_head_first = rank * p.q_heads;
  if (c.num_key_value_heads >= n) {
    p.kv_heads = c.num_key_value_heads / n;
    p.kv_head_first = rank * p.kv_heads;
  } else {
    // More ranks than kv heads: each rank holds the one head its query heads read.
    p.kv_heads = 1;
    p.kv_head_first = rank / (n / c.num_key_value_heads);
  }
  p.inter = c.intermediate_size / n;
  p.inter_first = rank * p.inter;
  p.vocab = (c.vocab_size + n - 1) / n;
  p.vocab_first = rank * p.vocab;
  return p;
}

}  // namespace sabre
