#include "kernels/cuda/cuda_backend.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "kernels/cuda/cuda_check.hpp"
#include "kernels/cuda/cuda_kv_cache.hpp"
#include "kernels/cuda/nccl_communicator.hpp"

// CudaBackend: construction, memory, the KV pool and the step. Operations: cuda_backend_ops.cpp;
// sampling: cuda_backend_sampling.cpp.

namespace sabre {
namespace {

// Weight uploads are staged in pieces of this size (two of them pinned at once).
constexpr size_t kStagingBytes = size_t{32} << 20;

size_t aligned(size_t offset) { return (offset + 15) / 16 * 16; }

}  // namespace

CudaBackend::CudaBackend(CudaBackendOptions options) : options_(options) {
  if (options_.activation != ElementType::f32 && options_.activation != ElementType::bf16 &&
      options_.activation != ElementType::f16) {
    throw std::invalid_argument(fmt::format("CudaBackend: activations in {} (bf16, f16 or f32)",
                                            element_type_name(options_.activation)));
  }
  const int count = cuda::device_count();
  if (options_.device < 0 || options_.device >= count) {
    throw std::runtime_error(count == 0 ? std::string("--device cuda: no CUDA device is visible (no GPU, or no driver); use --device cpu")
                                        : fmt::format("--device cuda:{}: there are {} CUDA devices (0 to {})",
                                                      options_.device, count, count - 1));
  }
  bind();
  device_ = cuda::device_properties(options_.device);
  stream_ = std::make_unique<cuda::Stream>();
  gemm_ = std::make_unique<cuda::Gemm>(options_.gemm_workspace_bytes, options_.batch_invariant);
  for (size_t i = 0; i < staging_.size(); ++i) {
    staging_[i] = cuda::PinnedMemory(kStagingBytes, "weight upload staging");
    staging_done_[i] = std::make_unique<cuda::Event>();
  }
  step_sent_ = std::make_unique<cuda::Event>();
  spdlog::info("CUDA backend on GPU {}: {} (compute {}.{}, {} SMs, {:.1f} GiB), activations in {}", device_.index,
               device_.name, device_.major, device_.minor, device_.multiprocessors,
               static_cast<double>(device_.total_memory) / (1 << 30), element_type_name(options_.activation));
}

CudaBackend::~CudaBackend() {
  // Buffers free themselves; the stream must have finished with them first.
  try {
    bind();
    stream_->synchronize();
  } catch (const std::exception& e) {
    spdlog::error("CUDA backend shutdown: {}", e.what());
  }
}

void CudaBackend::bind() const { cuda::use_device(options_.device); }

void CudaBackend::synchronize() {
  bind();
  stream_->synchronize();
}

std::unique_ptr<Communicator> CudaBackend::create_communicator(const CommunicatorOptions& options) {
  bind();
  return make_nccl_communicator(options, options_.device, stream());
}

// ---- memory ----

std::unique_ptr<DeviceBuffer> CudaBackend::allocate(ElementType type, int64_t elements) {
  bind();
  return std::make_unique<cuda::CudaBuffer>(type, elements, fmt::format("{} {} elements", elements,
                                                                        element_type_name(type)));
}

std::unique_ptr<DeviceBuffer> CudaBackend::upload(ElementType type, int64_t elements,
                                                  std::span<const std::byte> bytes) {
  if (bytes.size() != element_bytes(type, elements)) {
    throw std::invalid_argument(fmt::format("upload: {} bytes for {} elements of {}", bytes.size(), elements,
                                            element_type_name(type)));
  }
  auto buffer = allocate(type, elements);
  // Through the pinned buffers in turn: the copy of one piece overlaps filling the next, and the source
  // (often a mapped checkpoint file) is read exactly once.
  auto* to = static_cast<std::byte*>(buffer->raw());
  for (size_t done = 0; done < bytes.size();) {
    const size_t n = std::min(kStagingBytes, bytes.size() - done);
    const int i = next_staging_;
    next_staging_ = 1 - next_staging_;
    staging_done_[static_cast<size_t>(i)]->synchronize();
    std::memcpy(staging_[static_cast<size_t>(i)].get(), bytes.data() + done, n);
    cuda::check(cudaMemcpyAsync(to + done, staging_[static_cast<size_t>(i)].get(), n, cudaMemcpyHostToDevice, stream()),
                "uploading weights");
    staging_done_[static_cast<size_t>(i)]->record(stream());
    done += n;
  }
  return buffer;
}

void CudaBackend::write(DeviceBuffer& buffer, std::span<const std::byte> bytes) {
  if (bytes.size() > buffer.bytes()) {
    throw std::invalid_argument(fmt::format("write: {} bytes into a buffer of {}", bytes.size(), buffer.bytes()));
  }
  bind();
  // From pageable memory the copy has taken the bytes when the call returns; on the stream it is ordered
  // with the steps around it.
  cuda::check(cudaMemcpyAsync(buffer.raw(), bytes.data(), bytes.size(), cudaMemcpyHostToDevice, stream()),
              "writing a device buffer");
}

void CudaBackend::download(const void* source, std::span<std::byte> host) {
  bind();
  cuda::check(cudaMemcpyAsync(host.data(), source, host.size(), cudaMemcpyDeviceToHost, stream()),
              "downloading from the GPU");
  stream_->synchronize();
}

std::optional<DeviceMemoryInfo> CudaBackend::device_memory() {
  bind();
  stream_->synchronize();
  const cuda::MemoryInfo info = cuda::memory_info();
  return DeviceMemoryInfo{info.free, info.total};
}

void CudaBackend::ensure_dequant_tile(int64_t in_features) {
  // At least 128 rows of the widest packed matrix (slices are whole multiples of 128 rows). Every matrix
  // of a model runs in every step, so the tile reaches its size in the first step that takes it, which
  // runs directly (run_step records a size only on its second step).
  const size_t wanted = std::max(size_t{64} << 20, element_bytes(options_.activation, in_features) * 128);
  if (dequant_tile_.bytes() >= wanted) return;
  if (capturing_) throw std::logic_error("CudaBackend: the dequantisation tile would grow inside a graph capture");
  stream_->synchronize();
  dequant_tile_ = cuda::DeviceMemory(wanted, "dequantised weight tiles");
  graphs_.clear();  // they hold the old tile's address
}

// ---- the KV pool ----

std::unique_ptr<KvCache> CudaBackend::create_kv_cache(const KvCacheShape& shape) {
  bind();
  return std::make_unique<CudaKvCache>(shape, stream());
}

size_t CudaBackend::kv_block_bytes(const KvCacheShape& shape) const { return CudaKvCache::block_bytes(shape); }

void CudaBackend::copy_kv_blocks(KvCache& kv, std::span<const KvBlockCopy> copies) {
  auto* cache = dynamic_cast<CudaKvCache*>(&kv);
  if (cache == nullptr) throw std::logic_error("CudaBackend: a KV cache that is not a CUDA block pool");
  const int64_t blocks = cache->num_blocks();
  std::vector<int32_t> pairs;
  for (const KvBlockCopy& copy : copies) {
    if (copy.from < 0 || copy.from >= blocks || copy.to < 0 || copy.to >= blocks) {
      throw std::invalid_argument(
          fmt::format("copy_kv_blocks: block {} -> {} is outside the pool of {} blocks", copy.from, copy.to, blocks));
    }
    pairs.push_back(copy.from);
    pairs.push_back(copy.to);
  }
  bind();
  cuda::launch_copy_kv_blocks(cache->layers().data(), static_cast<int64_t>(cache->layers().size()), pairs.data(),
                              static_cast<int64_t>(copies.size()), stream());
}

CudaKvCache& CudaBackend::step_cache() const {
  if (step_kv_ == nullptr) throw std::logic_error("CudaBackend: an operation on the step before any step was uploaded");
  auto* cache = dynamic_cast<CudaKvCache*>(step_kv_);
  if (cache == nullptr) throw std::logic_error("CudaBackend: a KV cache that is not a CUDA block pool");
  return *cache;
}

// ---- the step ----

CudaBackend::StepLayout CudaBackend::step_layout(const StepLimits& limits) {
  // Small arrays first, then those whose used part is copied alone (items, merges, block table rows).
  StepLayout l;
  size_t at = 0;
  const auto take = [&](size_t& field, size_t bytes) {
    field = at;
    at = aligned(at + bytes);
  };
  const auto ints = [](int64_t n) { return static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(int32_t); };
  take(l.counts, sizeof(cuda::StepCounts));
  take(l.query_start, ints(limits.max_sequences + 1));
  take(l.context_lens, ints(limits.max_sequences));
  take(l.logit_rows, ints(limits.max_logit_rows));
  take(l.token_ids, ints(limits.max_tokens));
  take(l.positions, ints(limits.max_tokens));
  take(l.slot_mapping, ints(limits.max_tokens));
  take(l.items, static_cast<size_t>(cuda::max_attention_items(limits.max_tokens)) * sizeof(cuda::AttentionItem));
  take(l.merges, static_cast<size_t>(limits.max_tokens) * sizeof(cuda::MergeItem));
  take(l.block_tables, ints(limits.max_sequences * limits.max_blocks_per_sequence));
  l.end = at;
  return l;
}

void CudaBackend::prepare(const StepLimits& limits) {
  const StepLimits grown = grown_step_limits(limits_, limits);
  if (grown == limits_) return;
  bind();
  stream_->synchronize();  // the old buffers may still be read
  layout_ = step_layout(grown);
  step_device_ = cuda::DeviceMemory(layout_.end, "the step buffer");
  step_host_ = cuda::PinnedMemory(layout_.end, "the step buffer's host copy");
  std::memset(step_host_.get(), 0, layout_.end);
  const auto at = [&](size_t offset) { return step_device_.as<std::byte>() + offset; };
  view_.counts = reinterpret_cast<const cuda::StepCounts*>(at(layout_.counts));
  view_.query_start = reinterpret_cast<const int32_t*>(at(layout_.query_start));
  view_.context_lens = reinterpret_cast<const int32_t*>(at(layout_.context_lens));
  view_.logit_rows = reinterpret_cast<const int32_t*>(at(layout_.logit_rows));
  view_.token_ids = reinterpret_cast<const int32_t*>(at(layout_.token_ids));
  view_.positions = reinterpret_cast<const int32_t*>(at(layout_.positions));
  view_.slot_mapping = reinterpret_cast<const int32_t*>(at(layout_.slot_mapping));
  view_.attention_items = reinterpret_cast<const cuda::AttentionItem*>(at(layout_.items));
  view_.merges = reinterpret_cast<const cuda::MergeItem*>(at(layout_.merges));
  view_.block_tables = reinterpret_cast<const int32_t*>(at(layout_.block_tables));
  view_.block_table_stride = static_cast<int32_t>(grown.max_blocks_per_sequence);
  limits_ = grown;
  // Recorded graphs read the old buffers: record again at the new limits.
  graphs_.clear();
  warmed_up_.clear();
  // By default as many rows as sequences: decode steps (the logits rows also cover prompts being scored,
  // whose prefill steps are not replayed).
  const int64_t largest = options_.graph_max_batch > 0 ? options_.graph_max_batch : limits_.max_sequences;
  graph_sizes_ = options_.enable_graphs && !graphs_failed_
                     ? cuda::GraphSizes(std::min({largest, limits_.max_logit_rows, limits_.max_tokens}))
                     : cuda::GraphSizes();
}

int64_t CudaBackend::logit_rows_computed(int64_t logit_rows, int64_t padded_rows) const {
  return graph_sizes_.contains(padded_rows) ? padded_rows : logit_rows;
}

void CudaBackend::run_step(const std::function<void()>& ops) {
  if (!graph_sizes_.contains(counts_.rows)) {
    ops();
    return;
  }
  const std::pair<int64_t, uint64_t> key{counts_.rows, step_cache().serial()};
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    // The first step of a size runs directly: plans, kernel attributes and modules are set up outside any
    // capture. The second is recorded (queued into a graph instead of running) and replayed.
    if (warmed_up_.insert(key).second) {
      ops();
      return;
    }
    cuda::check(cudaStreamBeginCapture(stream(), cudaStreamCaptureModeThreadLocal), "starting a graph capture");
    capturing_ = true;
    cudaGraph_t graph = nullptr;
    std::string failure;
    try {
      ops();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    capturing_ = false;
    const cudaError_t ended = cudaStreamEndCapture(stream(), &graph);
    if (failure.empty() && (ended != cudaSuccess || graph == nullptr)) failure = cudaGetErrorString(ended);
    if (!failure.empty()) {
      // A step that cannot be recorded is no reason to stop serving: run without graphs from now on (an
      // error that is not the capture's shows again when the step runs directly).
      cudaGetLastError();
      if (graph != nullptr) cudaGraphDestroy(graph);
      spdlog::warn("CUDA graph capture of a {}-row step failed ({}); continuing without graphs", counts_.rows,
                   failure);
      graphs_failed_ = true;
      graph_sizes_ = cuda::GraphSizes();
      graphs_.clear();
      ops();
      return;
    }
    it = graphs_.emplace(key, std::make_unique<cuda::GraphExec>(graph)).first;
    spdlog::debug("recorded the CUDA graph of {}-row steps ({} graphs)", counts_.rows, graphs_.size());
  }
  it->second->launch(stream());
}

void CudaBackend::ensure_partials(const cuda::AttentionGeometry& g) {
  // Sized for the most partial slots any step within the limits can use, before the first step: a graph
  // recorded from a step without split decodes must still hold the buffers a later step writes.
  const int64_t slots = cuda::max_partials(limits_.max_sequences) * g.q_heads;
  const auto sums = static_cast<size_t>(slots * g.head_dim) * sizeof(float);
  const auto stats = static_cast<size_t>(slots * 2) * sizeof(float);
  if (sums <= partial_sums_.bytes() && stats <= partial_stats_.bytes()) return;
  stream_->synchronize();
  partial_sums_ = cuda::DeviceMemory(std::max(sums, partial_sums_.bytes()), "split attention's partial sums");
  partial_stats_ = cuda::DeviceMemory(std::max(stats, partial_stats_.bytes()), "split attention's partial maxima");
  graphs_.clear();  // they hold the old buffers' addresses
}

void CudaBackend::upload_step(const StepDescription& step) {
  check_step(step, limits_);
  check_step_kv(step);
  const KvCacheShape& pool = step.kv->shape();
  const cuda::AttentionGeometry geometry{pool.query_heads(), pool.kv_heads, pool.head_dim};
  cuda::plan_attention(step, geometry, plan_);
  bind();
  ensure_partials(geometry);

  counts_ = {};
  counts_.rows = static_cast<int32_t>(step.rows());
  counts_.real_rows = static_cast<int32_t>(step.real_rows());
  counts_.sequences = static_cast<int32_t>(step.sequences());
  // A graph step computes a logits row for every row: the extra entries repeat row 0 (never sampled).
  const bool graph_step = graph_sizes_.contains(step.rows());
  logit_row_count_ = graph_step ? step.rows() : static_cast<int64_t>(step.logit_rows.size());
  counts_.logit_rows = static_cast<int32_t>(logit_row_count_);
  counts_.attention_items = static_cast<int32_t>(plan_.items.size());
  counts_.merges = static_cast<int32_t>(plan_.merges.size());
  counts_.partials = static_cast<int32_t>(plan_.partials);

  // The previous step's copy must have left the host buffer before it is overwritten.
  step_sent_->synchronize();
  auto* host = step_host_.as<std::byte>();
  const auto put = [&](size_t offset, const auto& values) {
    std::memcpy(host + offset, values.data(), values.size() * sizeof(values[0]));
  };
  std::memcpy(host + layout_.counts, &counts_, sizeof(counts_));
  put(layout_.query_start, step.query_start);
  put(layout_.context_lens, step.context_lens);
  put(layout_.logit_rows, step.logit_rows);
  std::fill(reinterpret_cast<int32_t*>(host + layout_.logit_rows) + step.logit_rows.size(),
            reinterpret_cast<int32_t*>(host + layout_.logit_rows) + logit_row_count_, 0);
  put(layout_.token_ids, step.token_ids);
  put(layout_.positions, step.positions);
  put(layout_.slot_mapping, step.slot_mapping);
  put(layout_.items, plan_.items);
  put(layout_.merges, plan_.merges);
  // Rows keep the prepared width, so a sequence's table starts at the same place whatever the step's.
  auto* tables = reinterpret_cast<int32_t*>(host + layout_.block_tables);
  for (int64_t s = 0; s < step.sequences(); ++s) {
    std::copy_n(step.block_table(s), step.block_table_width, tables + s * limits_.max_blocks_per_sequence);
  }
  // Four copies: the fixed-size head of the buffer, then the used parts of the variable arrays. (Entries
  // past a table's used width are never read: attention reads blocks of positions below the context.)
  const auto send = [&](size_t offset, size_t bytes) {
    if (bytes == 0) return;
    cuda::check(cudaMemcpyAsync(step_device_.as<std::byte>() + offset, host + offset, bytes, cudaMemcpyHostToDevice,
                                stream()),
                "uploading the step");
  };
  send(0, layout_.items);
  send(layout_.items, plan_.items.size() * sizeof(cuda::AttentionItem));
  send(layout_.merges, plan_.merges.size() * sizeof(cuda::MergeItem));
  // Block tables: only each sequence's used width, at the prepared row pitch.
  if (step.sequences() > 0 && step.block_table_width > 0) {
    const size_t pitch = static_cast<size_t>(limits_.max_blocks_per_sequence) * sizeof(int32_t);
    cuda::check(cudaMemcpy2DAsync(step_device_.as<std::byte>() + layout_.block_tables, pitch,
                                  host + layout_.block_tables, pitch,
                                  static_cast<size_t>(step.block_table_width) * sizeof(int32_t),
                                  static_cast<size_t>(step.sequences()), cudaMemcpyHostToDevice, stream()),
                "uploading the step's block tables");
  }
  step_sent_->record(stream());
  step_kv_ = step.kv;
}

}  // namespace sabre
