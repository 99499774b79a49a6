#pragma once
// Backends by device name, for programs that take --device.

#include <memory>
#include <string_view>

#include "model/backend.hpp"

namespace sabre {

// What a program may ask of any backend.
struct BackendOptions {
  unsigned threads = 0;          // 0: all hardware threads (CPU)
  bool batch_invariant = false;  // see CpuBackendOptions::batch_invariant
};

// "cpu" -> the fp32 CPU backend. "cuda" -> an error saying the build has no CUDA backend (or that it is
// not written yet). Anything else -> an error listing the devices.
std::unique_ptr<Backend> make_backend(std::string_view device, BackendOptions options = {});

}  // namespace sabre
