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

int64_t element_block_size(ElementType type) {
  switch (type) {
    case ElementType::q8_0:
    case ElementType::q4_1:
    case ElementType::q4_0:
    case ElementType::q5_0:
    case ElementType::q5_1:
    case ElementType::iq4_nl:
    case ElementType::q4_z:
    case ElementType::q8_z:
    case ElementType::fp8_s: return 32;
    case ElementType::q2_k:
    case ElementType::q3_k:
    case ElementType::q4_k:
    case ElementType::q5_k:
    case ElementType::q6_k:
    case ElementType::iq4_xs: return 256;
    default: return 1;
  }
}

size_t element_block_bytes(ElementType type) {
  switch (type) {
    case ElementType::f32:
    case ElementType::i32: return 4;
    case ElementType::bf16:
    case ElementType::f16: return 2;
    case ElementType::i8:
    case ElementType::fp8_e4m3: return 1;
    case ElementType::q8_0: return 2 + 32;
    case ElementType::q4_1: return 2 + 2 + 16;
    case ElementType::q4_0: return 2 + 16;
    case ElementType::q5_0: return 2 + 4 + 16;
    case ElementType::q5_1: return 2 + 2 + 4 + 16;
    case ElementType::q2_k: return 16 + 64 + 2 + 2;
    case ElementType::q3_k: return 32 + 64 + 12 + 2;
    case ElementType::q4_k: return 2 + 2 + 12 + 128;
    case ElementType::q5_k: return 2 + 2 + 12 + 32 + 128;
    case ElementType::q6_k: return 128 + 64 + 16 + 2;
    case ElementType::iq4_nl: return 2 + 16;
    case ElementType::iq4_xs: return 2 + 2 + 4 + 128;
    case ElementType::q4_z: return 4 + 1 + 16;
    case ElementType::q8_z: return 4 + 1 + 32;
    case ElementType::fp8_s: return 4 + 32;
  }
  throw std::invalid_argument("element_block_bytes: unknown element type");
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
