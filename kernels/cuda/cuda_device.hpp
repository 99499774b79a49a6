#pragma once
// Which GPUs there are and what they have, asked of the CUDA runtime. device_count() is 0 on a machine
// with no driver or no device, so callers (the factory, the [cuda] tests) can say so instead of failing.

#include <cstddef>
#include <string>

namespace sabre::cuda {

int device_count();

struct DeviceProperties {
  int index = 0;
  std::string name;
  int major = 0;  // compute capability
  int minor = 0;
  int multiprocessors = 0;
  size_t total_memory = 0;
  size_t l2_bytes = 0;
  size_t shared_per_block_optin = 0;  // the most dynamic shared memory a block may ask for
};
DeviceProperties device_properties(int index);

struct MemoryInfo {
  size_t free = 0;
  size_t total = 0;
};
// The device's free and total memory now (the calling thread's current device).
MemoryInfo memory_info();

// Makes `index` the calling thread's current device. The backend calls it on entry to every operation:
// CAF runs an actor on whichever scheduler thread is free, and the current device is per thread.
void use_device(int index);

}  // namespace sabre::cuda
