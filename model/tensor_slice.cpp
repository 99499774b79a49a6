#include "model/tensor_slice.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace sabre {

std::vector<std::byte> slice_bytes(std::span<const std::byte> whole, const std::vector<int64_t>& shape, ElementType type,
                                   const TensorPart& part) {
  const int64_t columns = shape.size() > 1 ? shape[1] : 1;
  const size_t row_bytes = element_bytes(type, columns);
  if (part.slice.kind == TensorSlice::rows) {
    std::vector<std::byte> out(static_cast<size_t>(part.slice.count) * row_bytes, std::byte{0});
    const int64_t available = std::clamp<int64_t>(shape[0] - part.slice.begin, 0, part.slice.count);
    std::memcpy(out.data(), whole.data() + static_cast<size_t>(part.slice.begin) * row_bytes,
                static_cast<size_t>(available) * row_bytes);
    return out;
  }
  // Columns: packed types only on whole blocks (element_bytes throws otherwise, naming the count).
  if (is_packed(type) && (part.slice.begin % element_block_size(type) != 0 ||
                          part.slice.count % element_block_size(type) != 0)) {
    throw std::invalid_argument(fmt::format(
        "tensor parallelism: {} is stored in {} blocks of {} and its columns {}..{} do not fall on block boundaries",
        part.name, element_type_name(type), element_block_size(type), part.slice.begin,
        part.slice.begin + part.slice.count - 1));
  }
  const size_t offset = element_bytes(type, part.slice.begin), take = element_bytes(type, part.slice.count);
  std::vector<std::byte> out(static_cast<size_t>(shape[0]) * take);
  for (int64_t r = 0; r < shape[0]; ++r) {
    std::memcpy(out.data() + static_cast<size_t>(r) * take, whole.data() + static_cast<size_t>(r) * row_bytes + offset,
                take);
  }
  return out;
}

}  // namespace sabre
