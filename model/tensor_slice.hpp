#pragma once
// One rank's part of a stored tensor under tensor parallelism (model/tensor_parallel.hpp): whole, a run
// of rows (column-parallel layers and the vocabulary), or a run of columns (row-parallel layers), and
// the bytes of that part cut from the stored tensor.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "kernels/element_type.hpp"

namespace sabre {

struct TensorSlice {
  enum Kind { whole, rows, columns } kind = whole;
  int64_t begin = 0;
  int64_t count = 0;
};

struct TensorPart {
  std::string name;
  std::vector<int64_t> shape;  // as stored
  TensorSlice slice{};

  std::vector<int64_t> loaded_shape() const {
    std::vector<int64_t> out = shape;
    if (slice.kind == TensorSlice::rows) out[0] = slice.count;
    if (slice.kind == TensorSlice::columns) out[1] = slice.count;
    return out;
  }
  // Whether only some of the columns are loaded (an unsharded rank's column slice keeps them all).
  bool splits_columns() const {
    return slice.kind == TensorSlice::columns && (slice.begin != 0 || slice.count != shape[1]);
  }
};
using TensorParts = std::vector<TensorPart>;

// The part of `whole` (a row-major tensor of `shape`, `type` elements) as bytes of the same type. Rows
// past the tensor's end (a vocabulary padded to divide) are zero. Throws std::invalid_argument naming the
// tensor when a column split of a block-quantised type does not fall on block boundaries.
std::vector<std::byte> slice_bytes(std::span<const std::byte> whole, const std::vector<int64_t>& shape,
                                   ElementType type, const TensorPart& part);

}  // namespace sabre
