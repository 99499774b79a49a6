#include "kernels/cuda/cuda_device.hpp"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include "kernels/cuda/cuda_check.hpp"

namespace sabre::cuda {

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // no driver or no device: not an error for the caller
    return 0;
  }
  return count;
}

DeviceProperties device_properties(int index) {
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, index), fmt::format("reading the properties of GPU {}", index));
  DeviceProperties d;
  d.index = index;
  d.name = p.name;
  d.major = p.major;
  d.minor = p.minor;
  d.multiprocessors = p.multiProcessorCount;
  d.total_memory = p.totalGlobalMem;
  d.l2_bytes = static_cast<size_t>(p.l2CacheSize);
  d.shared_per_block_optin = p.sharedMemPerBlockOptin;
  return d;
}

MemoryInfo memory_info() {
  MemoryInfo info;
  check(cudaMemGetInfo(&info.free, &info.total), "reading the GPU's free memory");
  return info;
}

void use_device(int index) { check(cudaSetDevice(index), fmt::format("selecting GPU {}", index)); }

}  // namespace sabre::cuda
