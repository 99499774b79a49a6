#pragma once
// A quantised matrix as GPTQ, AWQ and compressed-tensors all describe it once their packing is undone:
// unsigned integers, one per weight, and a scale and zero point per output row and input group, with
// value = scale * (q - zero). Repacking it into q4_z / q8_z blocks (kernels/checkpoint_blocks.hpp) copies
// each group's scale and zero into each of its runs of 32 inputs. GPTQ's act-order checkpoints assign
// inputs to groups out of order (g_idx); their inputs are reordered so that every group is contiguous,
// and the block matrix records which input each stored column holds.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/element_type.hpp"

namespace sabre {

struct GroupedInts {
  int64_t rows = 0;     // output features
  int64_t columns = 0;  // input features
  int bits = 4;         // 2, 4 or 8: q4_z holds up to 4 bits, q8_z 8
  std::vector<uint8_t> q;       // rows x columns
  int64_t groups = 1;
  std::vector<float> scales;    // rows x groups
  std::vector<uint8_t> zeros;   // rows x groups
  // The group of each input (GPTQ's g_idx); empty when input i is in group i / group_size.
  std::vector<int32_t> group_of_input;
  int64_t group_size = 0;       // inputs per group when group_of_input is empty
};

struct PackedMatrix {
  ElementType type = ElementType::q4_z;
  std::vector<std::byte> bytes;      // rows x (columns / 32) blocks
  std::vector<int32_t> input_order;  // the input each stored column holds; empty when in order
};

// Throws std::runtime_error naming `tensor` when the columns are not a multiple of 32, a group index is
// out of range, or a run of 32 (reordered) inputs spans two groups (a group of fewer than 32 inputs).
PackedMatrix pack_grouped_ints(const GroupedInts& m, const std::string& tensor);

}  // namespace sabre
