#pragma once
// Backends by device name, for programs that take --device.

#include <memory>
#include <string_view>

#include "config/engine_options.hpp"
#include "kernels/backend.hpp"

namespace sabre {

// The float type a GPU computes a model in: what --dtype asks for; with auto the checkpoint's fp16 or
// bf16, and bf16 for an fp32 (or quantised) checkpoint: fp32 runs on a GPU only when asked for, since its
// matrix units are many times slower at it.
ElementType gpu_float_type(ModelDtype requested, std::string_view checkpoint_dtype);

// options.device "cpu" -> the CPU backend (threads, batch_invariant). "cuda" -> the CUDA backend on GPU 0
// (CUDA_VISIBLE_DEVICES picks it) computing in gpu_float_type(requested, checkpoint_dtype), or an error
// saying the build has no CUDA backend or the machine no GPU. Anything else -> an error listing the devices.
std::unique_ptr<Backend> make_backend(const DeviceOptions& options, ModelDtype requested = ModelDtype::automatic,
                                      std::string_view checkpoint_dtype = {});

}  // namespace sabre
