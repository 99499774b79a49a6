#include "kernels/cpu/cpu_backend.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <thread>
#include <vector>

#include <cblas.h>
#include <sys/mman.h>

#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/cpu_kernels.hpp"
#include "kernels/cpu/quantized_gemv.hpp"

namespace sabre {
namespace {

class HostBuffer final : public DeviceBuffer {
 public:
  explicit HostBuffer(size_t floats) : values_(floats) {}
  explicit HostBuffer(std::vector<float>&& values) : values_(std::move(values)) {}
  float* data() override { return values_.data(); }
  const float* data() const override { return values_.data(); }
  size_t size() const override { return values_.size(); }

 private:
  std::vector<float> values_;
};

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// Weights (uploads of 2 MB or more) live in 2 MB-aligned memory the kernel is asked to back with
// transparent huge pages: decoding streams every weight once per token, and with 4 KB pages each 4 KB
// costs a TLB miss (the VM's THP setting is "madvise", so plain vectors never get huge pages).
class HugePageBuffer final : public DeviceBuffer {
 public:
  explicit HugePageBuffer(size_t floats) : size_(floats) {
    const size_t bytes = (floats * sizeof(float) + kHugePage - 1) / kHugePage * kHugePage;
    values_.reset(static_cast<float*>(std::aligned_alloc(kHugePage, bytes)));
    if (!values_) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    madvise(values_.get(), bytes, MADV_HUGEPAGE);  // advisory: without THP the buffer still works
#endif
  }
  float* data() override { return values_.get(); }
  const float* data() const override { return values_.get(); }
  size_t size() const override { return size_; }

  static constexpr size_t kHugePage = size_t{2} << 20;

 private:
  std::unique_ptr<float[], FreeDeleter> values_;
  size_t size_;
};

std::unique_ptr<DeviceBuffer> weight_buffer(const void* source, size_t bytes) {
  const size_t floats = (bytes + sizeof(float) - 1) / sizeof(float);
  auto buffer = std::make_unique<HugePageBuffer>(floats);
  std::memcpy(buffer->data(), source, bytes);
  return buffer;
}

unsigned default_threads(unsigned requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}


}  // namespace

CpuBackend::CpuBackend(CpuBackendOptions options)
    : options_((cpu::require_avx2_fma(), options)), pool_(default_threads(options.threads) - 1) {
  // OpenBLAS keeps its own threads for the matrix products; by default it uses every core.
  if (options.threads > 0) openblas_set_num_threads(static_cast<int>(options.threads));
}

std::unique_ptr<DeviceBuffer> CpuBackend::allocate(size_t floats) { return std::make_unique<HostBuffer>(floats); }

std::unique_ptr<DeviceBuffer> CpuBackend::upload(std::span<const float> host) {
  if (host.size_bytes() >= HugePageBuffer::kHugePage) return weight_buffer(host.data(), host.size_bytes());
  auto buffer = std::make_unique<HostBuffer>(host.size());
  std::copy(host.begin(), host.end(), buffer->data());
  return buffer;
}

std::unique_ptr<DeviceBuffer> CpuBackend::upload(std::vector<float>&& host) {
  // Copied rather than adopted when large: one tensor at a time, so the peak memory barely grows.
  if (host.size() * sizeof(float) >= HugePageBuffer::kHugePage) {
    auto buffer = weight_buffer(host.data(), host.size() * sizeof(float));
    std::vector<float>().swap(host);
    return buffer;
  }
  return std::make_unique<HostBuffer>(std::move(host));
}

std::unique_ptr<DeviceBuffer> CpuBackend::upload_bytes(std::span<const std::byte> host) {
  if (host.size() >= HugePageBuffer::kHugePage) return weight_buffer(host.data(), host.size());
  // HostBuffer stores floats; round up so the bytes fit (the tail float is padding nobody reads).
  auto buffer = std::make_unique<HostBuffer>((host.size() + sizeof(float) - 1) / sizeof(float));
  std::memcpy(buffer->data(), host.data(), host.size());
  return buffer;
}

void CpuBackend::download(const float* source, std::span<float> host) {
  std::copy(source, source + host.size(), host.begin());
}


void CpuBackend::embedding(std::span<const int32_t> ids, const float* table, int64_t dim, float* out) {
  for (size_t i = 0; i < ids.size(); ++i) {
    std::memcpy(out + static_cast<int64_t>(i) * dim, table + static_cast<int64_t>(ids[i]) * dim,
                static_cast<size_t>(dim) * sizeof(float));
  }
}

void CpuBackend::rms_norm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y) {
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    cpu::rms_norm(x + begin * dim, end - begin, dim, weight, eps, y + begin * dim, dim, dim);
  });
}

void CpuBackend::head_rms_norm(float* x, int64_t rows, const HeadLayout& heads, const float* weight, float eps) {
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* row = x + r * heads.row_stride + heads.offset;
      cpu::rms_norm(row, heads.heads, heads.head_dim, weight, eps, row, heads.head_dim, heads.head_dim);
    }
  });
}

void CpuBackend::rope_table(std::span<const int32_t> positions, std::span<const float> inv_freq,
                            float attention_scaling, float* cos_sin) {
  cpu::rope_table(positions, inv_freq, attention_scaling, cos_sin);
}

void CpuBackend::apply_rope(float* x, int64_t rows, const HeadLayout& heads, const float* cos_sin) {
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    cpu::apply_rope(x + begin * heads.row_stride, end - begin, heads.heads, heads.head_dim, heads.offset,
                    heads.row_stride, cos_sin + begin * heads.head_dim);
  });
}

void CpuBackend::silu_mul(const float* gate_up, int64_t rows, int64_t inter, float* out) {
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    cpu::silu_mul(gate_up + begin * 2 * inter, end - begin, inter, out + begin * inter);
  });
}

void CpuBackend::add(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

void CpuBackend::gather_rows(const float* x, int64_t dim, std::span<const int32_t> rows, float* out) {
  for (size_t i = 0; i < rows.size(); ++i) {
    std::memcpy(out + static_cast<int64_t>(i) * dim, x + static_cast<int64_t>(rows[i]) * dim,
                static_cast<size_t>(dim) * sizeof(float));
  }
}

}  // namespace sabre
