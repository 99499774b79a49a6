#include "kernels/backend_factory.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "kernels/cpu/cpu_backend.hpp"

namespace sabre {

std::unique_ptr<Backend> make_backend(const DeviceOptions& options) {
  const std::string_view device = options.device;
  if (device == "cpu") return std::make_unique<CpuBackend>(CpuBackendOptions{options.threads, options.batch_invariant});
  if (device == "cuda" || device.starts_with("cuda:")) {
// The CUDA backend (kernels/cuda) is later work; until it exists no build can run on a GPU.
    throw std::runtime_error("--device cuda: not supported yet (this build has no CUDA backend); use --device cpu");
  }
  throw std::runtime_error(fmt::format("unknown device '{}' (expected cpu or cuda)", device));
}

}  // namespace sabre
