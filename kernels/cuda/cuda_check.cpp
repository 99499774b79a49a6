#include "kernels/cuda/cuda_check.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace sabre::cuda {

void check(cudaError_t status, std::string_view what) {
  if (status == cudaSuccess) return;
  cudaGetLastError();  // clear a sticky-free error so the next call does not report it again
  throw std::runtime_error(fmt::format("{}: {} ({})", what, cudaGetErrorName(status), cudaGetErrorString(status)));
}

void check(cublasStatus_t status, std::string_view what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw std::runtime_error(fmt::format("{}: cuBLASLt status {}", what, static_cast<int>(status)));
}

void check_launch(std::string_view kernel) { check(cudaGetLastError(), fmt::format("launching {}", kernel)); }

}  // namespace sabre::cuda
