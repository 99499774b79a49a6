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
#include "kernels/cpu/gloo_communicator.hpp"
#include "kernels/cpu/quantized_gemv.hpp"

namespace sabre {
namespace {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using HostMemory = std::unique_ptr<std::byte[], FreeDeleter>;

// calloc rather than a zero-filled vector: a large buffer (the workspace sized for a whole step, a KV
// pool) comes from fresh, lazily mapped pages, so memory is only taken as the steps reach into it.
HostMemory zeroed_bytes(size_t bytes) {
  HostMemory memory(static_cast<std::byte*>(std::calloc(std::max<size_t>(bytes, 1), 1)));
  if (!memory) throw std::bad_alloc();
  return memory;
}

class HostBuffer final : public DeviceBuffer {
 public:
  HostBuffer(ElementType type, int64_t elements) : DeviceBuffer(type, elements), memory_(zeroed_bytes(bytes())) {}
  void* raw() override { return memory_.get(); }
  const void* raw() const override { return memory_.get(); }

 private:
  HostMemory memory_;
};

// An fp32 buffer adopting a vector the caller gave up (small tensors: no copy at load).
class VectorBuffer final : public DeviceBuffer {
 public:
  explicit VectorBuffer(std::vector<float>&& values)
      : DeviceBuffer(ElementType::f32, static_cast<int64_t>(values.size())), values_(std::move(values)) {}
  void* raw() override { return values_.data(); }
  const void* raw() const override { return values_.data(); }

 private:
  std::vector<float> values_;
};

// Weights (uploads of 2 MB or more) live in 2 MB-aligned memory the kernel is asked to back with
// transparent huge pages: decoding streams every weight once per token, and with 4 KB pages each 4 KB
// costs a TLB miss (the VM's THP setting is "madvise", so plain vectors never get huge pages).
class HugePageBuffer final : public DeviceBuffer {
 public:
  HugePageBuffer(ElementType type, int64_t elements) : DeviceBuffer(type, elements) {
    const size_t rounded = (bytes() + kHugePage - 1) / kHugePage * kHugePage;
    memory_.reset(static_cast<std::byte*>(std::aligned_alloc(kHugePage, rounded)));
    if (!memory_) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    madvise(memory_.get(), rounded, MADV_HUGEPAGE);  // advisory: without THP the buffer still works
#endif
  }
  void* raw() override { return memory_.get(); }
  const void* raw() const override { return memory_.get(); }

  static constexpr size_t kHugePage = size_t{2} << 20;

 private:
  HostMemory memory_;
};

unsigned default_threads(unsigned requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

template <class T>
std::unique_ptr<T[]> fixed_array(int64_t n) {
  return std::make_unique<T[]>(static_cast<size_t>(std::max<int64_t>(n, 1)));
}

void copy_into(int32_t* to, const std::vector<int32_t>& from) { std::copy(from.begin(), from.end(), to); }

}  // namespace

CpuBackend::CpuBackend(CpuBackendOptions options)
    : options_((cpu::require_avx2_fma(), options)), pool_(default_threads(options.threads) - 1) {
  if (options_.pad_rows_to < 1) {
    throw std::invalid_argument(fmt::format("CpuBackend: pad_rows_to must be at least 1, got {}", options_.pad_rows_to));
  }
  // OpenBLAS keeps its own threads for the matrix products; by default it uses every core.
  if (options.threads > 0) openblas_set_num_threads(static_cast<int>(options.threads));
}

std::unique_ptr<Communicator> CpuBackend::create_communicator(const CommunicatorOptions& options) {
  return make_gloo_communicator(options);
}

std::unique_ptr<DeviceBuffer> CpuBackend::allocate(ElementType type, int64_t elements) {
  return std::make_unique<HostBuffer>(type, elements);
}

std::unique_ptr<DeviceBuffer> CpuBackend::upload(ElementType type, int64_t elements, std::span<const std::byte> bytes) {
  if (bytes.size() != element_bytes(type, elements)) {
    throw std::invalid_argument(fmt::format("upload: {} bytes for {} elements of {}", bytes.size(), elements,
                                            element_type_name(type)));
  }
  std::unique_ptr<DeviceBuffer> buffer;
  if (bytes.size() >= HugePageBuffer::kHugePage) {
    buffer = std::make_unique<HugePageBuffer>(type, elements);
  } else {
    buffer = std::make_unique<HostBuffer>(type, elements);
  }
  std::memcpy(buffer->raw(), bytes.data(), bytes.size());
  return buffer;
}

std::unique_ptr<DeviceBuffer> CpuBackend::upload(std::vector<float>&& host) {
  // Copied rather than adopted when large (into huge pages): one tensor at a time, so the peak memory
  // barely grows.
  if (host.size() * sizeof(float) >= HugePageBuffer::kHugePage) {
    auto buffer = upload(std::span<const float>(host));
    std::vector<float>().swap(host);
    return buffer;
  }
  return std::make_unique<VectorBuffer>(std::move(host));
}

void CpuBackend::write(DeviceBuffer& buffer, std::span<const std::byte> bytes) {
  if (bytes.size() > buffer.bytes()) {
    throw std::invalid_argument(fmt::format("write: {} bytes into a buffer of {}", bytes.size(), buffer.bytes()));
  }
  std::memcpy(buffer.raw(), bytes.data(), bytes.size());
}

void CpuBackend::download(const void* source, std::span<std::byte> host) {
  std::memcpy(host.data(), source, host.size());
}

void CpuBackend::prepare(const StepLimits& limits) {
  const StepLimits grown = grown_step_limits(limits_, limits);
  if (grown == limits_) return;
  step_ = StepBuffers{};
  step_.token_ids = fixed_array<int32_t>(grown.max_tokens);
  step_.positions = fixed_array<int32_t>(grown.max_tokens);
  step_.slot_mapping = fixed_array<int32_t>(grown.max_tokens);
  step_.query_start = fixed_array<int32_t>(grown.max_sequences + 1);
  step_.context_lens = fixed_array<int32_t>(grown.max_sequences);
  step_.block_tables = fixed_array<int32_t>(grown.max_sequences * grown.max_blocks_per_sequence);
  step_.logit_rows = fixed_array<int32_t>(grown.max_logit_rows);
  // Attention makes at most a few tasks per sequence and kv head; reserve for the common case.
  attention_tasks_.reserve(static_cast<size_t>(grown.max_sequences) * 8);
  limits_ = grown;
}

int64_t CpuBackend::padded_rows(int64_t rows) const {
  return (rows + options_.pad_rows_to - 1) / options_.pad_rows_to * options_.pad_rows_to;
}

void CpuBackend::upload_step(const StepDescription& step) {
  check_step(step, limits_);
  check_step_kv(step);
  copy_into(step_.token_ids.get(), step.token_ids);
  copy_into(step_.positions.get(), step.positions);
  copy_into(step_.slot_mapping.get(), step.slot_mapping);
  copy_into(step_.query_start.get(), step.query_start);
  copy_into(step_.context_lens.get(), step.context_lens);
  // Rows keep the prepared width, so a sequence's table starts at the same place whatever the step's.
  for (int64_t s = 0; s < step.sequences(); ++s) {
    std::copy_n(step.block_table(s), step.block_table_width,
                step_.block_tables.get() + s * limits_.max_blocks_per_sequence);
  }
  copy_into(step_.logit_rows.get(), step.logit_rows);
  step_.rows = step.rows();
  step_.real_rows = step.real_rows();
  step_.sequences = step.sequences();
  step_.block_table_width = step.block_table_width;
  step_.logit_row_count = static_cast<int64_t>(step.logit_rows.size());
  step_.kv = step.kv;
}

void CpuBackend::embedding(const void* table, ElementType type, int64_t dim, int64_t first_id, int64_t table_rows,
                           void* activations) {
  auto* out = static_cast<float*>(activations);
  const size_t row_bytes = element_bytes(type, dim);
  const auto* rows = static_cast<const std::byte*>(table);
  for (int64_t r = 0; r < step_.rows; ++r) {
    const int64_t id = step_.token_ids[static_cast<size_t>(r)] - first_id;
    if (id < 0 || id >= table_rows) {
      std::fill(out + r * dim, out + (r + 1) * dim, 0.0f);  // another rank's part of the vocabulary
      continue;
    }
    const std::byte* row = rows + static_cast<size_t>(id) * row_bytes;
    if (type == ElementType::f32) {
      std::memcpy(out + r * dim, row, row_bytes);
    } else {
      cpu::dequantize_rows(type, row, dim, 0, 1, out + r * dim);
    }
  }
}

void CpuBackend::rms_norm(const void* input, int64_t rows, int64_t dim, const float* weight, float eps, void* output) {
  const auto* x = static_cast<const float*>(input);
  auto* y = static_cast<float*>(output);
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    cpu::rms_norm(x + begin * dim, end - begin, dim, weight, eps, y + begin * dim, dim, dim);
  });
}

void CpuBackend::add_rms_norm(void* x, const void* residual, int64_t rows, int64_t dim, const float* weight, float eps,
                              void* y) {
  add(x, residual, static_cast<size_t>(rows * dim));
  rms_norm(x, rows, dim, weight, eps, y);
}

void CpuBackend::head_rms_norm(void* activations, int64_t rows, const HeadLayout& heads, const float* weight,
                               float eps) {
  auto* x = static_cast<float*>(activations);
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* row = x + r * heads.row_stride + heads.offset;
      cpu::rms_norm(row, heads.heads, heads.head_dim, weight, eps, row, heads.head_dim, heads.head_dim);
    }
  });
}

void CpuBackend::rope_table(std::span<const float> inv_freq, float attention_scaling, float* cos_sin) {
  cpu::rope_table(std::span<const int32_t>(step_.positions.get(), static_cast<size_t>(step_.rows)), inv_freq,
                  attention_scaling, cos_sin);
}

void CpuBackend::apply_rope(void* activations, int64_t rows, const HeadLayout& heads, const float* cos_sin) {
  auto* x = static_cast<float*>(activations);
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    cpu::apply_rope(x + begin * heads.row_stride, end - begin, heads.heads, heads.head_dim, heads.offset,
                    heads.row_stride, cos_sin + begin * heads.head_dim);
  });
}

void CpuBackend::silu_mul(const void* input, int64_t rows, int64_t inter, void* output) {
  const auto* gate_up = static_cast<const float*>(input);
  auto* out = static_cast<float*>(output);
  for_row_blocks(rows, [&](int64_t begin, int64_t end) {
    cpu::silu_mul(gate_up + begin * 2 * inter, end - begin, inter, out + begin * inter);
  });
}

void CpuBackend::add(void* into, const void* from, size_t n) {
  auto* x = static_cast<float*>(into);
  const auto* y = static_cast<const float*>(from);
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

void CpuBackend::gather_vocab_shards(const float* gathered, int64_t shards, int64_t rows, int64_t shard_vocab,
                                     int64_t vocab, float* logits) {
  for (int64_t shard = 0; shard < shards; ++shard) {
    const int64_t first = shard * shard_vocab;
    const int64_t count = std::min(shard_vocab, vocab - first);
    if (count <= 0) break;
    for (int64_t r = 0; r < rows; ++r) {
      std::memcpy(logits + r * vocab + first, gathered + (shard * rows + r) * shard_vocab,
                  static_cast<size_t>(count) * sizeof(float));
    }
  }
}

void CpuBackend::gather_logit_rows(const void* input, int64_t dim, void* output) {
  const auto* x = static_cast<const float*>(input);
  auto* out = static_cast<float*>(output);
  for (int64_t i = 0; i < step_.logit_row_count; ++i) {
    std::memcpy(out + i * dim, x + static_cast<int64_t>(step_.logit_rows[static_cast<size_t>(i)]) * dim,
                static_cast<size_t>(dim) * sizeof(float));
  }
}

}  // namespace sabre
