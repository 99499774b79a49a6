#pragma once
// The CPU features the CPU backend's kernels are compiled for. The paged attention kernel always uses
// AVX2, FMA and F16C (paged_attention.cpp enables them for itself even in a generic x86-64 build), so a
// CPU without them is refused up front with a clear message instead of dying on an illegal instruction.

#include <stdexcept>

namespace sabre::cpu {

inline void require_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || !__builtin_cpu_supports("f16c")) {
    throw std::runtime_error("the CPU backend needs a CPU with AVX2, FMA and F16C, and this one lacks them");
  }
#else
#error "the CPU backend's kernels are written for x86-64 with AVX2 and FMA"
#endif
}

}  // namespace sabre::cpu
