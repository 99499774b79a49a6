#include "kernels/element_type.hpp"

#include "kernels/kv_cache.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace sabre {

std::string_view element_type_name(ElementType type) {
  switch (type) {
    case ElementType::f32: return "f32";
    case ElementType::bf16: return "bf16";
    case ElementType::f16: return "f16";
    case ElementType::i8: return "int8";
    case ElementType::fp8_e4m3: return "fp8_e4m3";
    case ElementType::i32: return "i32";
    case ElementType::q8_0: return "q8_0";
    case ElementType::q4_1: return "q4_1";
    case ElementType::q4_0: return "q4_0";
    case ElementType::q5_0: return "q5_0";
    case ElementType::q5_1: return "q5_1";
    case ElementType::q2_k: return "q2_k";
    case ElementType::q3_k: return "q3_k";
    case ElementType::q4_k: return "q4_k";
    case ElementType::q5_k: return "q5_k";
    case ElementType::q6_k: return "q6_k";
    case ElementType::iq4_nl: return "iq4_nl";
    case ElementType::iq4_xs: return "iq4_xs";
    case ElementType::q4_z: return "q4_z";
    case ElementType::q8_z: return "q8_z";
    case ElementType::fp8_s: return "fp8_s";
  }
  return "unknown";
}

ElementType kv_element_type(KvCacheDtype requested, ElementType automatic) {
  switch (requested) {
    case KvCacheDtype::automatic: return automatic;
    case KvCacheDtype::bfloat16: return ElementType::bf16;
    case KvCacheDtype::float16: return ElementType::f16;
    case KvCacheDtype::fp8_e4m3: return ElementType::fp8_e4m3;
    case KvCacheDtype::int8: return ElementType::i8;
  }
  return automatic;
}

size_t element_bytes(ElementType type, int64_t count) {
  const int64_t block = element_block_size(type);
  if (count < 0 || count % block != 0) {
    throw std::invalid_argument(fmt::format("{} elements of {} are not a whole number of its {}-element blocks", count,
                                            element_type_name(type), block));
  }
  return static_cast<size_t>(count / block) * element_block_bytes(type);
}

}  // namespace sabre
