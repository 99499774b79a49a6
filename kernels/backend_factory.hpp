#pragma once
// Backends by device name, for programs that take --device.

#include <memory>
#include <string_view>

#include "config/engine_options.hpp"
#include "kernels/backend.hpp"

namespace sabre {

// options.device "cpu" -> the CPU backend (threads, batch_invariant). "cuda" -> an error saying the build
// has no CUDA backend (or that it is not written yet). Anything else -> an error listing the devices.
std::unique_ptr<Backend> make_backend(const DeviceOptions& options);

}  // namespace sabre
