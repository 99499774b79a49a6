#pragma once
// Backends by device name, for programs that take --device.

#include <memory>
#include <string_view>

#include "model/backend.hpp"

namespace sabre {

// "cpu" -> the fp32 CPU backend (threads = 0: all hardware threads). "cuda" -> an error saying the build
// has no CUDA backend (or that it is not written yet). Anything else -> an error listing the devices.
std::unique_ptr<Backend> make_backend(std::string_view device, unsigned threads = 0);

}  // namespace sabre
