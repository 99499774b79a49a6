#pragma once
// Turning CUDA and cuBLASLt status codes into exceptions that say what was being done. Every runtime call
// the backend makes goes through check(); kernel launches through check_launch().

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <new>
#include <string>
#include <string_view>

namespace sabre::cuda {

// Device memory ran out: a bad_alloc (what the Backend contract promises for a pool that does not fit)
// whose message says how much was asked for and what for.
class DeviceOutOfMemory : public std::bad_alloc {
 public:
  explicit DeviceOutOfMemory(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  std::string message_;
};

// Throws std::runtime_error "<what>: <error name> (<description>)" unless `status` is success.
void check(cudaError_t status, std::string_view what);
void check(cublasStatus_t status, std::string_view what);
// After a launch: the launch's own error (a bad configuration), without waiting for the kernel.
void check_launch(std::string_view kernel);

}  // namespace sabre::cuda
