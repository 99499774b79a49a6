#include "kernels/cuda/gemm.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "kernels/cuda/cuda_check.hpp"

namespace sabre::cuda {
namespace {

cudaDataType_t cuda_type(ElementType type) {
  switch (type) {
    case ElementType::f32: return CUDA_R_32F;
    case ElementType::bf16: return CUDA_R_16BF;
    case ElementType::f16: return CUDA_R_16F;
    default: throw std::invalid_argument(fmt::format("cuBLASLt products of {}", element_type_name(type)));
  }
}

// The rows the batch-invariant algorithm is chosen for: a size every step's product can use.
constexpr int64_t kInvariantProbeRows = 64;

}  // namespace

// Column-major view of the row-major product: y^T [n, m] = W [n, k] (stored k x n, transposed) * x^T [k, m].
struct Gemm::Plan {
  cublasLtMatmulDesc_t operation = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulAlgo_t algorithm{};

  ~Plan() {
    if (c != nullptr) cublasLtMatrixLayoutDestroy(c);
    if (b != nullptr) cublasLtMatrixLayoutDestroy(b);
    if (a != nullptr) cublasLtMatrixLayoutDestroy(a);
    if (operation != nullptr) cublasLtMatmulDescDestroy(operation);
  }
};

Gemm::Gemm(size_t workspace_bytes, bool batch_invariant)
    : workspace_(workspace_bytes, "the cuBLASLt workspace"), batch_invariant_(batch_invariant) {
  check(cublasLtCreate(&handle_), "creating a cuBLASLt handle");
}

Gemm::~Gemm() {
  plans_.clear();
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

Gemm::Plan& Gemm::plan(int64_t m, int64_t n, int64_t k, int64_t ldy, ElementType type, ElementType out_type) {
  const Key key{m, n, k, ldy, type, out_type};
  if (auto it = plans_.find(key); it != plans_.end()) return *it->second;
  if (plans_.size() >= kMaxPlans) plans_.clear();  // no graph holds a plan: they are only descriptors
  const std::string what = fmt::format("a {}x{}x{} {} product", m, n, k, element_type_name(type));
  auto p = std::make_unique<Plan>();
  check(cublasLtMatmulDescCreate(&p->operation, CUBLAS_COMPUTE_32F, CUDA_R_32F), what);
  const cublasOperation_t transpose = CUBLAS_OP_T, keep = CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(p->operation, CUBLASLT_MATMUL_DESC_TRANSA, &transpose, sizeof(transpose)), what);
  check(cublasLtMatmulDescSetAttribute(p->operation, CUBLASLT_MATMUL_DESC_TRANSB, &keep, sizeof(keep)), what);
  check(cublasLtMatrixLayoutCreate(&p->a, cuda_type(type), static_cast<uint64_t>(k), static_cast<uint64_t>(n), k), what);
  check(cublasLtMatrixLayoutCreate(&p->b, cuda_type(type), static_cast<uint64_t>(k), static_cast<uint64_t>(m), k), what);
  check(cublasLtMatrixLayoutCreate(&p->c, cuda_type(out_type), static_cast<uint64_t>(n), static_cast<uint64_t>(m), ldy),
        what);

  cublasLtMatmulPreference_t preference = nullptr;
  check(cublasLtMatmulPreferenceCreate(&preference), what);
  const uint64_t workspace = workspace_.bytes();
  check(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace,
                                             sizeof(workspace)),
        what);
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const Key invariant_key{0, n, k, ldy, type, out_type};
  const auto known = invariant_algorithms_.find(invariant_key);
  if (batch_invariant_ && known != invariant_algorithms_.end()) {
    p->algorithm = known->second;
    found = 1;
  } else if (batch_invariant_) {
    // Chosen at a fixed m, split-K off, then kept for every m of this (n, k).
    Plan probe;
    check(cublasLtMatrixLayoutCreate(&probe.b, cuda_type(type), static_cast<uint64_t>(k),
                                     static_cast<uint64_t>(kInvariantProbeRows), k),
          what);
    check(cublasLtMatrixLayoutCreate(&probe.c, cuda_type(out_type), static_cast<uint64_t>(n),
                                     static_cast<uint64_t>(kInvariantProbeRows), ldy),
          what);
    check(cublasLtMatmulAlgoGetHeuristic(handle_, p->operation, p->a, probe.b, probe.c, probe.c, preference, 1, &result,
                                         &found),
          what);
    if (found > 0) {
      // One pass over k, no reduction across blocks: the order of every sum is the tile's alone.
      const int32_t one = 1;
      const uint32_t no_reduction = CUBLASLT_REDUCTION_SCHEME_NONE;
      check(cublasLtMatmulAlgoConfigSetAttribute(&result.algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &one, sizeof(one)),
            what);
      check(cublasLtMatmulAlgoConfigSetAttribute(&result.algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &no_reduction,
                                                 sizeof(no_reduction)),
            what);
      p->algorithm = result.algo;
      invariant_algorithms_.emplace(invariant_key, result.algo);
    }
  } else {
    check(cublasLtMatmulAlgoGetHeuristic(handle_, p->operation, p->a, p->b, p->c, p->c, preference, 1, &result, &found),
          what);
    if (found > 0) p->algorithm = result.algo;
  }
  if (found > 0 && batch_invariant_) {
    cublasLtMatmulHeuristicResult_t checked{};
    if (cublasLtMatmulAlgoCheck(handle_, p->operation, p->a, p->b, p->c, p->c, &p->algorithm, &checked) !=
        CUBLAS_STATUS_SUCCESS) {
      // Serving goes on; only this product's rows may now differ with the batch.
      spdlog::warn("{}: the batch-invariant algorithm does not take {} rows; this product uses its own", what, m);
      found = 0;
      check(cublasLtMatmulAlgoGetHeuristic(handle_, p->operation, p->a, p->b, p->c, p->c, preference, 1, &result,
                                           &found),
            what);
      if (found > 0) p->algorithm = result.algo;
    }
  }
  cublasLtMatmulPreferenceDestroy(preference);
  if (found == 0) throw std::runtime_error(fmt::format("cuBLASLt has no algorithm for {}", what));
  return *plans_.emplace(key, std::move(p)).first->second;
}

void Gemm::run(const void* x, const void* w, void* y, int64_t m, int64_t n, int64_t k, int64_t ldy, ElementType type,
               ElementType out_type, cudaStream_t stream) {
  if (m == 0) return;
  Plan& p = plan(m, n, k, ldy, type, out_type);
  const float one = 1.0f, zero = 0.0f;
  check(cublasLtMatmul(handle_, p.operation, &one, w, p.a, x, p.b, &zero, y, p.c, y, p.c, &p.algorithm,
                       workspace_.get(), workspace_.bytes(), stream),
        fmt::format("cuBLASLt product of {} x {} x {}", m, n, k));
}

}  // namespace sabre::cuda
