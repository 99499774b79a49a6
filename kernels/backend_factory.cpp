#include "kernels/backend_factory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "kernels/cpu/cpu_backend.hpp"
#ifdef SABRE_HAVE_CUDA
#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/cuda_device.hpp"
#endif

namespace sabre {

ElementType gpu_float_type(ModelDtype requested, std::string_view checkpoint_dtype) {
  switch (requested) {
    case ModelDtype::float32: return ElementType::f32;
    case ModelDtype::float16: return ElementType::f16;
    case ModelDtype::bfloat16: return ElementType::bf16;
    case ModelDtype::automatic: break;
  }
  return checkpoint_dtype == "float16" ? ElementType::f16 : ElementType::bf16;
}

unsigned rank_threads(unsigned threads, RankPlacement placement) {
  if (placement.world_size <= 1) return threads;
  const unsigned total = threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency());
  const auto ranks = static_cast<unsigned>(placement.world_size);
  // The first total % ranks ranks take one thread more, so that every thread is used.
  const unsigned share = total / ranks + (static_cast<unsigned>(placement.rank) < total % ranks ? 1u : 0u);
  return std::max(1u, share);
}

std::unique_ptr<Backend> make_backend(const DeviceOptions& options, ModelDtype requested,
                                      std::string_view checkpoint_dtype, RankPlacement placement) {
  const std::string_view device = options.device;
  if (device == "cpu") {
    return std::make_unique<CpuBackend>(
        CpuBackendOptions{rank_threads(options.threads, placement), options.batch_invariant, options.exact_kernels});
  }
  if (device == "cuda") {
#ifdef SABRE_HAVE_CUDA
    const int gpus = cuda::device_count();
    if (placement.world_size > 1 && placement.world_size > gpus) {
      throw std::runtime_error(fmt::format(
          "--tensor-parallel-size {} needs {} GPUs, one per rank, and this machine shows {} (CUDA_VISIBLE_DEVICES "
          "limits them)",
          placement.world_size, placement.world_size, gpus));
    }
    CudaBackendOptions cuda;
    cuda.device = placement.rank;
    cuda.activation = gpu_float_type(requested, checkpoint_dtype);
    cuda.batch_invariant = options.batch_invariant;
    cuda.enable_graphs = options.enable_cuda_graph;
    cuda.graph_max_batch = options.cuda_graph_max_batch_size;
    return std::make_unique<CudaBackend>(cuda);
#else
    throw std::runtime_error(
        "--device cuda: this build has no CUDA backend (build with the CUDA toolkit installed, or -DSABRE_CUDA=ON); "
        "use --device cpu");
#endif
  }
  throw std::runtime_error(fmt::format("unknown device '{}' (expected cpu or cuda)", device));
}

}  // namespace sabre
