// ggml tensor data to fp32: plain floats converted here, block formats through their decoders in
// kernels/quant_blocks.cpp (shared with the CPU kernels that multiply them as stored).

#include "model/weights/gguf_dequant.hpp"

#include "kernels/quant_blocks.hpp"
#include "model/weights/dtype_convert.hpp"

#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

namespace sabre {
namespace {

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace
// The packed element type of a ggml block format (kernels/quant_blocks.hpp decodes it).
std::optional<ElementType> ggml_element_type(uint32_t raw_type) {
  switch (static_cast<GgmlType>(raw_type)) {
    case GgmlType::q4_0: return ElementType::q4_0;
    case GgmlType::q4_1: return ElementType::q4_1;
    case GgmlType::q5_0: return ElementType::q5_0;
    case GgmlType::q5_1: return ElementType::q5_1;
    case GgmlType::q8_0: return ElementType::q8_0;
    case GgmlType::q2_k: return ElementType::q2_k;
    case GgmlType::q3_k: return ElementType::q3_k;
    case GgmlType::q4_k: return ElementType::q4_k;
    case GgmlType::q5_k: return ElementType::q5_k;
    case GgmlType::q6_k: return ElementType::q6_k;
    case GgmlType::iq4_nl: return ElementType::iq4_nl;
    case GgmlType::iq4_xs: return ElementType::iq4_xs;
    default: return std::nullopt;
  }
}

void dequantize_ggml(GgmlType type, std::span<const std::byte> src, std::span<float> dst) {
  const auto raw = static_cast<uint32_t>(type);
  const auto layout = ggml_block_layout(raw);
  if (!layout) throw std::runtime_error(fmt::format("cannot dequantise unknown ggml type {}", raw));
  if (dst.size() % layout->elements_per_block != 0) {
    throw std::runtime_error(fmt::format("cannot dequantise {} elements of {}: not a multiple of its "
                                         "block size {}",
                                         dst.size(), ggml_type_name(raw), layout->elements_per_block));
  }
  const size_t blocks = dst.size() / layout->elements_per_block;
  if (src.size() != blocks * layout->bytes_per_block) {
    throw std::runtime_error(fmt::format("cannot dequantise {} elements of {}: expected {} bytes, got {}",
                                         dst.size(), ggml_type_name(raw),
                                         blocks * layout->bytes_per_block, src.size()));
  }
  const auto* in = reinterpret_cast<const uint8_t*>(src.data());
  float* out = dst.data();
  switch (type) {
    case GgmlType::f32:
      std::memcpy(out, in, dst.size() * sizeof(float));
      return;
    case GgmlType::f16:
      for (size_t i = 0; i < dst.size(); ++i) out[i] = f16_to_f32(load_u16(in + 2 * i));
      return;
    case GgmlType::bf16:
      for (size_t i = 0; i < dst.size(); ++i) out[i] = bf16_to_f32(load_u16(in + 2 * i));
      return;
    default:
      break;
  }
  const auto format = ggml_element_type(raw);
  if (!format) throw std::runtime_error(fmt::format("dequantising {} is not supported", ggml_type_name(raw)));
  dequantize_blocks(*format, src.data(), static_cast<int64_t>(blocks), out);
}

}  // namespace sabre
