#pragma once
// RAII owners of device memory, pinned host memory, streams, events and graphs, and the DeviceBuffer the
// CUDA backend hands out.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string_view>
#include <utility>

#include "kernels/device_buffer.hpp"

namespace sabre::cuda {

// `bytes` of device memory on the current device (cudaMalloc), freed with it. Throws DeviceOutOfMemory
// naming `what` and the size when the device has not got them.
class DeviceMemory {
 public:
  DeviceMemory() = default;
  DeviceMemory(size_t bytes, std::string_view what);
  ~DeviceMemory();
  DeviceMemory(DeviceMemory&& other) noexcept { *this = std::move(other); }
  DeviceMemory& operator=(DeviceMemory&& other) noexcept;
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;

  void* get() const { return pointer_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(pointer_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* pointer_ = nullptr;
  size_t bytes_ = 0;
};

// Page-locked host memory (cudaMallocHost): what asynchronous copies to and from the device need.
class PinnedMemory {
 public:
  PinnedMemory() = default;
  PinnedMemory(size_t bytes, std::string_view what);
  ~PinnedMemory();
  PinnedMemory(PinnedMemory&& other) noexcept { *this = std::move(other); }
  PinnedMemory& operator=(PinnedMemory&& other) noexcept;
  PinnedMemory(const PinnedMemory&) = delete;
  PinnedMemory& operator=(const PinnedMemory&) = delete;

  void* get() const { return pointer_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(pointer_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* pointer_ = nullptr;
  size_t bytes_ = 0;
};

class Stream {
 public:
  Stream();  // non-blocking: never synchronises with the legacy default stream
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }
  void synchronize() const;

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  explicit Event(bool timing = false);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return event_; }
  void record(cudaStream_t stream);
  void synchronize() const;

 private:
  cudaEvent_t event_ = nullptr;
};

// An instantiated CUDA graph (what a captured step replays).
class GraphExec {
 public:
  explicit GraphExec(cudaGraph_t graph);  // instantiates, then destroys the graph
  ~GraphExec();
  GraphExec(const GraphExec&) = delete;
  GraphExec& operator=(const GraphExec&) = delete;
  void launch(cudaStream_t stream) const;

 private:
  cudaGraphExec_t exec_ = nullptr;
};

// A DeviceBuffer in device memory.
class CudaBuffer final : public DeviceBuffer {
 public:
  CudaBuffer(ElementType type, int64_t elements, std::string_view what)
      : DeviceBuffer(type, elements), memory_(bytes(), what) {}
  void* raw() override { return memory_.get(); }
  const void* raw() const override { return memory_.get(); }

 private:
  DeviceMemory memory_;
};

}  // namespace sabre::cuda
