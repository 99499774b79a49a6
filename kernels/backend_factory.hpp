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

// Which rank of a tensor-parallel group of this process the backend serves.
struct RankPlacement {
  int rank = 0;
  int world_size = 1;
};

// options.device "cpu" -> the CPU backend (batch_invariant; the ranks of a group share options.threads,
// or every hardware thread, evenly, at least one each). "cuda" -> the CUDA backend on GPU `rank`
// (CUDA_VISIBLE_DEVICES picks which they are) computing in gpu_float_type(requested, checkpoint_dtype),
// or an error saying the build has no CUDA backend, or that the machine has fewer GPUs than ranks.
// Anything else -> an error listing the devices.
std::unique_ptr<Backend> make_backend(const DeviceOptions& options, ModelDtype requested = ModelDtype::automatic,
                                      std::string_view checkpoint_dtype = {}, RankPlacement placement = {});

// The CPU threads rank `placement.rank` gets of `threads` (0: every hardware thread).
unsigned rank_threads(unsigned threads, RankPlacement placement);

}  // namespace sabre
