#pragma once
// A paged KV pool in device memory. Per layer, keys and values each hold [block][kv head][slot][head_dim]
// elements of the pool's type (one kv head's keys of a block are one contiguous run, what attention
// reads at a time); the 8-bit types add a float scale per [block][kv head][slot].

#include <vector>

#include "kernels/cuda/cuda_memory.hpp"
#include "kernels/cuda/launch.hpp"
#include "kernels/kv_cache.hpp"

namespace sabre {

class CudaKvCache final : public KvCache {
 public:
  // Throws std::invalid_argument for an empty shape or an unsupported type, cuda::DeviceOutOfMemory
  // (a std::bad_alloc) when the device has not the memory. The pool starts zeroed.
  CudaKvCache(const KvCacheShape& shape, cudaStream_t stream);
  const KvCacheShape& shape() const override { return shape_; }
  // Distinct for every pool this process creates (an address may be reused by a later pool).
  uint64_t serial() const { return serial_; }
  const cuda::KvLayerView& layer(int64_t index) const { return layers_[static_cast<size_t>(index)]; }
  const std::vector<cuda::KvLayerView>& layers() const { return layers_; }

  // Bytes of one block in every layer (keys, values, scales), as Backend::kv_block_bytes reports them.
  static size_t block_bytes(const KvCacheShape& shape);
  static void check_type(ElementType type);

 private:
  KvCacheShape shape_;
  uint64_t serial_;
  cuda::DeviceMemory keys_, values_, key_scales_, value_scales_;
  std::vector<cuda::KvLayerView> layers_;
};

}  // namespace sabre
