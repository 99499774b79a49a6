#pragma once
// A typed buffer in a backend's memory (host memory for the CPU backend, device memory for CUDA), freed
// when the object dies. Only Backend::download brings values back to the host.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernels/element_type.hpp"

namespace sabre {

class DeviceBuffer {
 public:
  DeviceBuffer(ElementType type, int64_t elements) : type_(type), elements_(elements) {}
  virtual ~DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  ElementType type() const { return type_; }
  int64_t elements() const { return elements_; }
  size_t bytes() const { return element_bytes(type_, elements_); }
  virtual void* raw() = 0;
  virtual const void* raw() const = 0;

  // The elements as fp32 / int32: a logic_error for a buffer of another type (a caller bug).
  float* data() { return static_cast<float*>(typed(ElementType::f32)); }
  const float* data() const { return static_cast<const float*>(const_cast<DeviceBuffer*>(this)->typed(ElementType::f32)); }
  int32_t* ints() { return static_cast<int32_t*>(typed(ElementType::i32)); }

 private:
  void* typed(ElementType wanted) {
    if (type_ != wanted) {
      throw std::logic_error("DeviceBuffer: a buffer of " + std::string(element_type_name(type_)) + " read as " +
                             std::string(element_type_name(wanted)));
    }
    return raw();
  }
  ElementType type_;
  int64_t elements_;
};

}  // namespace sabre
