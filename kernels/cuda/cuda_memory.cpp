#include "kernels/cuda/cuda_memory.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "kernels/cuda/cuda_check.hpp"

namespace sabre::cuda {
namespace {

double mib(size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

}  // namespace

DeviceMemory::DeviceMemory(size_t bytes, std::string_view what) : bytes_(bytes) {
  // cudaMalloc(0) returns no pointer; one byte keeps raw() distinct and non-null for empty buffers.
  const cudaError_t status = cudaMalloc(&pointer_, std::max<size_t>(bytes, 1));
  if (status == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    size_t free = 0, total = 0;
    cudaMemGetInfo(&free, &total);
    throw DeviceOutOfMemory(fmt::format("out of GPU memory allocating {:.1f} MiB for {} ({:.1f} MiB free of {:.1f})",
                                        mib(bytes), what, mib(free), mib(total)));
  }
  check(status, fmt::format("allocating {:.1f} MiB of GPU memory for {}", mib(bytes), what));
}

DeviceMemory::~DeviceMemory() {
  if (pointer_ != nullptr) cudaFree(pointer_);
}

DeviceMemory& DeviceMemory::operator=(DeviceMemory&& other) noexcept {
  if (this != &other) {
    if (pointer_ != nullptr) cudaFree(pointer_);
    pointer_ = std::exchange(other.pointer_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

PinnedMemory::PinnedMemory(size_t bytes, std::string_view what) : bytes_(bytes) {
  check(cudaMallocHost(&pointer_, std::max<size_t>(bytes, 1)),
        fmt::format("allocating {:.1f} MiB of pinned host memory for {}", mib(bytes), what));
}

PinnedMemory::~PinnedMemory() {
  if (pointer_ != nullptr) cudaFreeHost(pointer_);
}

PinnedMemory& PinnedMemory::operator=(PinnedMemory&& other) noexcept {
  if (this != &other) {
    if (pointer_ != nullptr) cudaFreeHost(pointer_);
    pointer_ = std::exchange(other.pointer_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

Stream::Stream() { check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a CUDA stream"); }

Stream::~Stream() {
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void Stream::synchronize() const { check(cudaStreamSynchronize(stream_), "waiting for the GPU"); }

Event::Event(bool timing) {
  check(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming), "creating a CUDA event");
}

Event::~Event() {
  if (event_ != nullptr) cudaEventDestroy(event_);
}

void Event::record(cudaStream_t stream) { check(cudaEventRecord(event_, stream), "recording a CUDA event"); }

void Event::synchronize() const { check(cudaEventSynchronize(event_), "waiting for a CUDA event"); }

GraphExec::GraphExec(cudaGraph_t graph) {
  const cudaError_t status = cudaGraphInstantiate(&exec_, graph, 0);
  cudaGraphDestroy(graph);
  check(status, "instantiating a captured CUDA graph");
}

GraphExec::~GraphExec() {
  if (exec_ != nullptr) cudaGraphExecDestroy(exec_);
}

void GraphExec::launch(cudaStream_t stream) const { check(cudaGraphLaunch(exec_, stream), "replaying a CUDA graph"); }

}  // namespace sabre::cuda
