#include "kernels/cuda/graph_sizes.hpp"

#include <algorithm>

namespace sabre::cuda {

GraphSizes::GraphSizes(int64_t largest) {
  for (int64_t s : {1, 2, 4}) {
    if (s <= largest) sizes_.push_back(s);
  }
  for (int64_t s = 8; s <= largest; s += 8) sizes_.push_back(s);
  if (largest >= 1 && sizes_.back() != largest) sizes_.push_back(largest);
}

int64_t GraphSizes::padded(int64_t rows) const {
  const auto it = std::lower_bound(sizes_.begin(), sizes_.end(), rows);
  return it == sizes_.end() ? rows : *it;
}

bool GraphSizes::contains(int64_t rows) const { return std::binary_search(sizes_.begin(), sizes_.end(), rows); }

}  // namespace sabre::cuda
