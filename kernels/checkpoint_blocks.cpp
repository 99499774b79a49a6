#include "kernels/checkpoint_blocks.hpp"

#include <array>
#include <cstring>

#include "kernels/float8.hpp"

namespace sabre {
namespace {

constexpr size_t kElements = element_block_size(ElementType::q4_z);  // q8_z and fp8_s alike
constexpr size_t kScaleBytes = 4;

float load_scale(const std::byte* block) {
  float scale;
  std::memcpy(&scale, block, kScaleBytes);
  return scale;
}

void decode_q4_z(const std::byte* block, float* out) {
  const float scale = load_scale(block);
  const int zero = static_cast<int>(block[kScaleBytes]);
  const auto* q = reinterpret_cast<const uint8_t*>(block + kScaleBytes + 1);
  for (size_t j = 0; j < kElements / 2; ++j) {
    out[j] = static_cast<float>((q[j] & 0x0F) - zero) * scale;
    out[j + kElements / 2] = static_cast<float>((q[j] >> 4) - zero) * scale;
  }
}

void decode_q8_z(const std::byte* block, float* out) {
  const float scale = load_scale(block);
  const int zero = static_cast<int>(block[kScaleBytes]);
  const auto* q = reinterpret_cast<const uint8_t*>(block + kScaleBytes + 1);
  for (size_t j = 0; j < kElements; ++j) out[j] = static_cast<float>(q[j] - zero) * scale;
}

// Every E4M3 code's value, so that widening a prompt's tiles costs a load per element.
const std::array<float, 256>& e4m3_values() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int code = 0; code < 256; ++code) t[static_cast<size_t>(code)] = e4m3_to_float(static_cast<uint8_t>(code));
    return t;
  }();
  return table;
}

void decode_fp8_s(const std::byte* block, float* out) {
  const float scale = load_scale(block);
  const auto* codes = reinterpret_cast<const uint8_t*>(block + kScaleBytes);
  const std::array<float, 256>& values = e4m3_values();
  for (size_t j = 0; j < kElements; ++j) out[j] = values[codes[j]] * scale;
}

}  // namespace

void encode_q4_z_block(float scale, uint8_t zero, const uint8_t* q, std::byte* block) {
  std::memcpy(block, &scale, kScaleBytes);
  block[kScaleBytes] = static_cast<std::byte>(zero);
  auto* packed = reinterpret_cast<uint8_t*>(block + kScaleBytes + 1);
  for (size_t j = 0; j < kElements / 2; ++j) {
    packed[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + kElements / 2] & 0x0F) << 4));
  }
}

void encode_q8_z_block(float scale, uint8_t zero, const uint8_t* q, std::byte* block) {
  std::memcpy(block, &scale, kScaleBytes);
  block[kScaleBytes] = static_cast<std::byte>(zero);
  std::memcpy(block + kScaleBytes + 1, q, kElements);
}

void encode_fp8_s_block(float scale, const uint8_t* codes, std::byte* block) {
  std::memcpy(block, &scale, kScaleBytes);
  std::memcpy(block + kScaleBytes, codes, kElements);
}

BlockDecoder checkpoint_block_decoder(ElementType format) {
  switch (format) {
    case ElementType::q4_z: return decode_q4_z;
    case ElementType::q8_z: return decode_q8_z;
    case ElementType::fp8_s: return decode_fp8_s;
    default: return nullptr;
  }
}

}  // namespace sabre
