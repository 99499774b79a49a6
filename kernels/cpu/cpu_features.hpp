#pragma once
// The CPU features the CPU backend's kernels are compiled for. The paged attention kernel always uses
// AVX2, FMA and F16C (paged_attention.cpp enables them for itself even in a generic x86-64 build), so a
// CPU without them is refused up front with a clear message instead of dying on an illegal instruction.

#include <stdexcept>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace sabre::cpu {

inline void require_avx2_fma() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // F16C is read from CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports does not know it.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  const bool f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") || !f16c) {
    throw std::runtime_error("the CPU backend needs a CPU with AVX2, FMA and F16C, and this one lacks them");
  }
#else
#error "the CPU backend's kernels are written for x86-64 with AVX2 and FMA"
#endif
}

}  // namespace sabre::cpu
