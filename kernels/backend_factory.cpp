#include "kernels/backend_factory.hpp"

#include <fmt/format.h>

#include <stdexcept>

#include "kernels/cpu/cpu_backend.hpp"
#ifdef SABRE_HAVE_CUDA
#include "kernels/cuda/cuda_backend.hpp"
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

std::unique_ptr<Backend> make_backend(const DeviceOptions& options, ModelDtype requested,
                                      std::string_view checkpoint_dtype) {
  const std::string_view device = options.device;
  if (device == "cpu") return std::make_unique<CpuBackend>(CpuBackendOptions{options.threads, options.batch_invariant});
  if (device == "cuda") {
#ifdef SABRE_HAVE_CUDA
    CudaBackendOptions cuda;
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
