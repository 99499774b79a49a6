#pragma once
// What the [cuda] tests share: the backend under test (the CUDA backend when a GPU is there), the CPU
// backend as the reference, typed uploads and downloads, and error norms.
//
// Without a GPU every [cuda] test prints "SKIPPED: no CUDA device" and returns; CTest reports it as
// skipped (tests/CMakeLists.txt). SABRE_CUDA_TESTS_ON_CPU=1 runs the same tests with a second CPU backend
// (fp32 activations only) in the GPU's place: it proves the tests' own plumbing on a machine without a
// GPU, not the CUDA code.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/backend.hpp"
#include "kernels/cpu/cpu_backend.hpp"
#include "kernels/cuda/cuda_backend.hpp"
#include "kernels/cuda/cuda_device.hpp"
#include "kernels/float16.hpp"
#include "model/weights/dtype_convert.hpp"

namespace sabre::cuda_test {

// The committed fixtures: SABRE_TEST_FIXTURES_DIR when set (the GPU machine runs a copy of the tree at
// another path than the build's), else the path compiled in.
inline std::filesystem::path fixtures_dir() {
  const char* dir = std::getenv("SABRE_TEST_FIXTURES_DIR");
  return dir != nullptr ? std::filesystem::path(dir) : std::filesystem::path(SABRE_TEST_FIXTURES);
}

inline bool on_cpu_instead() {
  const char* v = std::getenv("SABRE_CUDA_TESTS_ON_CPU");
  return v != nullptr && std::string(v) == "1";
}

// The backend under test computing in `activation`, or null (after the skip marker) when there is none.
inline std::unique_ptr<Backend> device_backend(ElementType activation = ElementType::bf16, bool batch_invariant = false,
                                               bool graphs = true) {
  if (cuda::device_count() > 0) {
    CudaBackendOptions options;
    options.activation = activation;
    options.batch_invariant = batch_invariant;
    options.enable_graphs = graphs;
    return std::make_unique<CudaBackend>(options);
  }
  if (on_cpu_instead() && activation == ElementType::f32) {
    return std::make_unique<CpuBackend>(CpuBackendOptions{.threads = 2, .batch_invariant = batch_invariant, .exact_kernels = true});
  }
  WARN("SKIPPED: no CUDA device" << (on_cpu_instead() ? " (and no CPU stand-in for this activation type)" : ""));
  return nullptr;
}

// The activation types the tests cover: all three on a GPU; fp32 when the CPU stands in.
inline std::vector<ElementType> activation_types() {
  if (cuda::device_count() > 0) return {ElementType::f32, ElementType::bf16, ElementType::f16};
  return {ElementType::f32};
}

// Values rounded to `type` and back, so both backends start from the same numbers.
inline std::vector<float> rounded(const std::vector<float>& values, ElementType type) {
  std::vector<float> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (type == ElementType::bf16) {
      out[i] = bf16_to_f32(f32_to_bf16(values[i]));
    } else if (type == ElementType::f16) {
      out[i] = f16_to_f32(f32_to_f16(values[i]));
    } else {
      out[i] = values[i];
    }
  }
  return out;
}

inline std::vector<std::byte> encode(const std::vector<float>& values, ElementType type) {
  std::vector<std::byte> bytes(element_bytes(type, static_cast<int64_t>(values.size())));
  for (size_t i = 0; i < values.size(); ++i) {
    if (type == ElementType::f32) {
      std::memcpy(bytes.data() + 4 * i, &values[i], 4);
    } else {
      const uint16_t h = type == ElementType::bf16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    }
  }
  return bytes;
}

inline std::vector<float> decode(const std::vector<std::byte>& bytes, ElementType type, size_t n) {
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (type == ElementType::f32) {
      std::memcpy(&out[i], bytes.data() + 4 * i, 4);
    } else {
      uint16_t h = 0;
      std::memcpy(&h, bytes.data() + 2 * i, 2);
      out[i] = type == ElementType::bf16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
  }
  return out;
}

// Activations of the backend's type holding `values` (rounded to it).
inline std::unique_ptr<DeviceBuffer> put(Backend& backend, const std::vector<float>& values) {
  const ElementType type = backend.activation_type();
  return backend.upload(type, static_cast<int64_t>(values.size()), encode(values, type));
}

// The first n activations of a buffer, as floats.
inline std::vector<float> get(Backend& backend, const DeviceBuffer& buffer, size_t n) {
  const ElementType type = buffer.type();
  std::vector<std::byte> bytes(element_bytes(type, static_cast<int64_t>(n)));
  backend.download(buffer.raw(), bytes);
  return decode(bytes, type, n);
}

inline std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

// ||a - b|| / ||b||; NaN anywhere fails.
inline double relative_error(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0, norm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return INFINITY;
    diff += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    norm += static_cast<double>(b[i]) * b[i];
  }
  return norm == 0 ? std::sqrt(diff) : std::sqrt(diff / norm);
}

// What the activation type allows: fp32 arithmetic differs only in order; bf16 keeps 8 bits, fp16 11.
inline double tolerance(ElementType type) {
  switch (type) {
    case ElementType::bf16: return 1e-2;
    case ElementType::f16: return 2e-3;
    default: return 1e-5;
  }
}

}  // namespace sabre::cuda_test
