#pragma once
// Matrix products through cuBLASLt: y[m, n] = x[m, k] W[n, k]^T with x and W in one float type (f32, bf16
// or f16), y in that type or fp32 (the LM head's logits), accumulation in fp32. A plan (descriptors and
// the heuristic's algorithm) is made once per shape and kept.
//
// Plans are kept per exact shape (cuBLASLt's layouts name m); every new prompt length adds one, so the
// cache is emptied when it reaches kMaxPlans.
//
// Batch-invariant mode: one algorithm per (n, k, types), chosen once and used for every m, with split-K
// off, so a row's result does not depend on how many rows share the product.

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <map>
#include <memory>
#include <tuple>

#include "kernels/cuda/cuda_memory.hpp"
#include "kernels/element_type.hpp"

namespace sabre::cuda {

class Gemm {
 public:
  Gemm(size_t workspace_bytes, bool batch_invariant);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // y (row stride ldy >= n) = x W^T on `stream`.
  void run(const void* x, const void* w, void* y, int64_t m, int64_t n, int64_t k, int64_t ldy, ElementType type,
           ElementType out_type, cudaStream_t stream);

 private:
  struct Plan;
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, ElementType, ElementType>;
  Plan& plan(int64_t m, int64_t n, int64_t k, int64_t ldy, ElementType type, ElementType out_type);

  cublasLtHandle_t handle_ = nullptr;
  DeviceMemory workspace_;
  bool batch_invariant_;
  static constexpr size_t kMaxPlans = 4096;
  std::map<Key, std::unique_ptr<Plan>> plans_;
  std::map<Key, cublasLtMatmulAlgo_t> invariant_algorithms_;  // keyed with m = 0
};

}  // namespace sabre::cuda
