#pragma once
// The step sizes the CUDA backend captures graphs for: 1, 2, 4, 8, then every multiple of 8 up to the
// largest (--cuda-graph-max-batch-size, capped by the step limits). A step of up to that many rows is
// padded to the next size and replays that size's graph: one launch instead of hundreds, which is what
// a small decode step's time is otherwise made of. Plain C++.

#include <cstdint>
#include <vector>

namespace sabre::cuda {

class GraphSizes {
 public:
  GraphSizes() = default;
  // No sizes when largest < 1 (graphs off).
  explicit GraphSizes(int64_t largest);
  bool empty() const { return sizes_.empty(); }
  int64_t largest() const { return sizes_.empty() ? 0 : sizes_.back(); }
  const std::vector<int64_t>& sizes() const { return sizes_; }
  // The smallest size >= rows, or rows itself when it is past the largest.
  int64_t padded(int64_t rows) const;
  bool contains(int64_t rows) const;

 private:
  std::vector<int64_t> sizes_;
};

}  // namespace sabre::cuda
