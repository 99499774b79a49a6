#include "model/weights/grouped_ints.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "config/quantization_config.hpp"
#include "kernels/checkpoint_blocks.hpp"

namespace sabre {
namespace {

// Inputs per repacked block (q4_z, q8_z and fp8_s alike).
constexpr int64_t kBlock = element_block_size(ElementType::q4_z);

// The group of every input, from g_idx or from the group size.
std::vector<int32_t> input_groups(const GroupedInts& m, const std::string& tensor) {
  if (!m.group_of_input.empty()) {
    if (static_cast<int64_t>(m.group_of_input.size()) != m.columns) {
      throw std::runtime_error(fmt::format("{}: g_idx has {} entries for {} inputs", tensor, m.group_of_input.size(),
                                           m.columns));
    }
    for (const int32_t g : m.group_of_input) {
      if (g < 0 || g >= m.groups) {
        throw std::runtime_error(fmt::format("{}: g_idx names group {} of {}", tensor, g, m.groups));
      }
    }
    return m.group_of_input;
  }
  std::vector<int32_t> groups(static_cast<size_t>(m.columns));
  for (int64_t i = 0; i < m.columns; ++i) groups[static_cast<size_t>(i)] = static_cast<int32_t>(i / m.group_size);
  return groups;
}

}  // namespace

PackedMatrix pack_grouped_ints(const GroupedInts& m, const std::string& tensor) {
  if (m.columns % kBlock != 0) {
    throw std::runtime_error(fmt::format("{}: {} inputs are not a multiple of 32, the block Sabre repacks into",
                                         tensor, m.columns));
  }
  if (!repacked_int_bits(m.bits)) {  // check_supported_quantization refuses these first
    throw std::logic_error(fmt::format("pack_grouped_ints: {} bits", m.bits));
  }
  const std::vector<int32_t> groups = input_groups(m, tensor);
  // Inputs sorted by group (stably): the identity unless g_idx reorders them.
  std::vector<int32_t> order(static_cast<size_t>(m.columns));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return groups[a] < groups[b]; });
  const int64_t blocks = m.columns / kBlock;
  std::vector<int32_t> block_group(static_cast<size_t>(blocks));
  for (int64_t b = 0; b < blocks; ++b) {
    const int32_t g = groups[static_cast<size_t>(order[static_cast<size_t>(b * kBlock)])];
    if (groups[static_cast<size_t>(order[static_cast<size_t>(b * kBlock + kBlock - 1)])] != g) {
      throw std::runtime_error(fmt::format(
          "{}: inputs {}..{} (in group order) span two groups: groups of fewer than 32 inputs cannot be repacked",
          tensor, b * kBlock, b * kBlock + kBlock - 1));
    }
    block_group[static_cast<size_t>(b)] = g;
  }

  PackedMatrix out;
  out.type = m.bits <= 4 ? ElementType::q4_z : ElementType::q8_z;
  if (out.type == ElementType::q4_z) {
    const auto top = std::max_element(m.zeros.begin(), m.zeros.end());
    if (top != m.zeros.end() && *top > 16) {
      throw std::runtime_error(fmt::format("{}: zero point {} is outside the {}-bit range", tensor, *top, m.bits));
    }
  }
  const size_t block_bytes = element_block_bytes(out.type);
  out.bytes.resize(static_cast<size_t>(m.rows * blocks) * block_bytes);
  uint8_t q[kBlock];
  for (int64_t r = 0; r < m.rows; ++r) {
    const uint8_t* row = m.q.data() + r * m.columns;
    for (int64_t b = 0; b < blocks; ++b) {
      for (int64_t j = 0; j < kBlock; ++j) q[j] = row[order[static_cast<size_t>(b * kBlock + j)]];
      const size_t g = static_cast<size_t>(r * m.groups + block_group[static_cast<size_t>(b)]);
      std::byte* block = out.bytes.data() + static_cast<size_t>(r * blocks + b) * block_bytes;
      if (out.type == ElementType::q4_z) {
        encode_q4_z_block(m.scales[g], m.zeros[g], q, block);
      } else {
        encode_q8_z_block(m.scales[g], m.zeros[g], q, block);
      }
    }
  }
  if (!std::is_sorted(groups.begin(), groups.end())) out.input_order = std::move(order);
  return out;
}

}  // namespace sabre
