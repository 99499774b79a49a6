#pragma once
// Reading one linear layer of a quantised safetensors checkpoint from its stored parts and repacking it
// into Sabre's 32-element blocks (model/weights/grouped_ints.hpp, kernels/checkpoint_blocks.hpp). Each
// reader undoes one format's published packing:
//   GPTQ:  qweight I32 [in * bits / 32, out] (inputs packed into words, lowest bits first), qzeros I32
//          [groups, out * bits / 32], scales [groups, out], g_idx I32 [in] when act-order assigned
//          groups; the "gptq" (v1) format stores each zero point minus one, "gptq_v2" as it is.
//   AWQ:   qweight I32 [in, out / 8] and qzeros I32 [groups, out / 8] with the 8 outputs of a word in the
//          order 0, 2, 4, 6, 1, 3, 5, 7; scales [groups, out].
//   compressed-tensors pack-quantized: weight_packed I32 [out, in * bits / 32] as a dense little-endian
//          bit stream of values offset by 2^(bits-1), weight_scale [out, groups], weight_zero_point I32
//          [out * bits / 32, groups] (asymmetric only, packed along the outputs), weight_g_idx [in].
//   compressed-tensors int-quantized: weight I8 [out, in], weight_scale [out, 1], [1] or [out, groups].
//   FP8 (quant_method fp8, and compressed-tensors float-quantized): weight F8_E4M3 [out, in] with
//          weight_scale_inv or weight_scale per tensor, per output row, or per block of
//          weight_block_size.
// Errors name the tensor, the part and what was expected.

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/quantization_config.hpp"
#include "model/weights/grouped_ints.hpp"
#include "model/weights/weight_source.hpp"

namespace sabre {

struct RepackedMatrix {
  PackedMatrix packed;
  int64_t rows = 0;
  int64_t columns = 0;
  std::string origin;  // the file of its first part
};

// The layer `base` ("model.layers.0.self_attn.q_proj") repacked, or nullopt when the checkpoint stores
// it unquantised (as base.weight in a float type).
std::optional<RepackedMatrix> read_quantized_matrix(const WeightSource& source, const std::string& base,
                                                    const QuantizationConfig& config);

// The suffixes of a quantised layer's parts (".qweight", ".qzeros", ".scales", ".g_idx", ".weight_packed",
// ".weight_scale", ".weight_scale_inv", ...), which the repacking source hides behind base.weight.
std::span<const std::string_view> quantization_part_suffixes();
bool is_quantization_part(std::string_view name);

}  // namespace sabre
