#include "kernels/cuda/cuda_kv_cache.hpp"

#include <fmt/format.h>

#include <atomic>
#include <stdexcept>

#include "kernels/cuda/cuda_check.hpp"

namespace sabre {
namespace {

bool scaled(ElementType type) { return type == ElementType::i8 || type == ElementType::fp8_e4m3; }

uint64_t next_serial() {
  static std::atomic<uint64_t> serial{1};
  return serial++;
}

}  // namespace

void CudaKvCache::check_type(ElementType type) {
  if (type != ElementType::f32 && type != ElementType::bf16 && type != ElementType::f16 && type != ElementType::i8 &&
      type != ElementType::fp8_e4m3) {
    throw std::invalid_argument(fmt::format(
        "the CUDA backend cannot keep a KV cache of {} (f32, bf16, f16, int8 or fp8_e4m3)", element_type_name(type)));
  }
}

size_t CudaKvCache::block_bytes(const KvCacheShape& shape) {
  check_type(shape.dtype);
  const auto elements = static_cast<size_t>(shape.block_size * shape.kv_heads * shape.head_dim);
  const size_t scales = scaled(shape.dtype) ? static_cast<size_t>(shape.block_size * shape.kv_heads) : 0;
  return 2 * static_cast<size_t>(shape.layers) * (elements * element_block_bytes(shape.dtype) + scales * sizeof(float));
}

CudaKvCache::CudaKvCache(const KvCacheShape& shape, cudaStream_t stream) : shape_(shape), serial_(next_serial()) {
  if (shape.layers <= 0 || shape.kv_heads <= 0 || shape.head_dim <= 0 || shape.block_size <= 0 ||
      shape.num_blocks <= 0) {
    throw std::invalid_argument(fmt::format("KV cache of {} layers x {} kv heads x {} dims in {} blocks of {} tokens "
                                            "is empty",
                                            shape.layers, shape.kv_heads, shape.head_dim, shape.num_blocks,
                                            shape.block_size));
  }
  check_type(shape.dtype);
  const size_t layer_elements = static_cast<size_t>(shape.num_blocks * shape.kv_heads * shape.block_size * shape.head_dim);
  const size_t layer_bytes = layer_elements * element_block_bytes(shape.dtype);
  const size_t layer_scales = scaled(shape.dtype) ? static_cast<size_t>(shape.num_blocks * shape.kv_heads * shape.block_size) : 0;
  const auto layers = static_cast<size_t>(shape.layers);
  const std::string what = fmt::format("a KV cache of {} blocks of {} tokens", shape.num_blocks, shape.block_size);
  keys_ = cuda::DeviceMemory(layers * layer_bytes, what);
  values_ = cuda::DeviceMemory(layers * layer_bytes, what);
  if (layer_scales > 0) {
    key_scales_ = cuda::DeviceMemory(layers * layer_scales * sizeof(float), what);
    value_scales_ = cuda::DeviceMemory(layers * layer_scales * sizeof(float), what);
  }
  for (const cuda::DeviceMemory* m : {&keys_, &values_, &key_scales_, &value_scales_}) {
    if (m->get() != nullptr) cuda::check(cudaMemsetAsync(m->get(), 0, m->bytes(), stream), "zeroing a KV cache");
  }
  for (size_t l = 0; l < layers; ++l) {
    cuda::KvLayerView v;
    v.keys = keys_.as<std::byte>() + l * layer_bytes;
    v.values = values_.as<std::byte>() + l * layer_bytes;
    if (layer_scales > 0) {
      v.key_scales = key_scales_.as<float>() + l * layer_scales;
      v.value_scales = value_scales_.as<float>() + l * layer_scales;
    }
    v.type = shape.dtype;
    v.kv_heads = shape.kv_heads;
    v.head_dim = shape.head_dim;
    v.block_size = shape.block_size;
    layers_.push_back(v);
  }
}

}  // namespace sabre
