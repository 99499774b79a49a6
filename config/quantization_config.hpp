#pragma once
// How a Hugging Face checkpoint's weights are quantised, as config.json's "quantization_config" (or an
// older quantize_config.json beside it) says: GPTQ, AWQ, FP8, compressed-tensors, bitsandbytes and the
// rest. Read at open, so a checkpoint Sabre cannot load yet is refused with what it is, before any
// tensor of an unfamiliar dtype is met.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sabre {

struct QuantizationConfig {
  std::string method;             // quant_method: "gptq", "awq", "fp8", "compressed-tensors", ...
  int64_t bits = 0;               // 0: not given (fp8 and compressed-tensors say it elsewhere)
  int64_t group_size = 0;         // -1: one group per output channel; 0: not given
  bool desc_act = false;          // GPTQ act-order (a g_idx per input)
  std::optional<bool> sym;        // symmetric (no zero points)
  std::string checkpoint_format;  // GPTQ's "gptq" / "gptq_v2", AWQ's "version" ("gemm", "gemv")
  std::vector<int64_t> weight_block_size;  // FP8 block-wise scales (compressed-tensors' block_structure)
  // compressed-tensors: how the checkpoint stores its weights ("pack-quantized", "int-quantized",
  // "float-quantized", "naive-quantized"), their type ("int", "float"), the scales' strategy ("tensor",
  // "channel", "group", "block"), and whether a sparsity_config is set.
  std::string format;
  std::string weight_type;
  std::string strategy;
  bool sparse = false;

  // "gptq, 4-bit, group size 128, desc_act, symmetric" for messages.
  std::string summary() const;
};

// The "quantization_config" object of config.json text, nullopt when there is none. Throws ConfigError
// naming the field for an object Sabre cannot read (no quant_method, bits that are not a number) or a
// method it does not know, and for values the method does not have (GPTQ bits other than 2, 3, 4 or 8;
// a group size that is neither -1 nor a positive power of two; AWQ bits other than 4). compressed-tensors'
// config_groups give bits, group_size, sym, strategy and block size from their "weights" scheme (every
// group must use the same one).
std::optional<QuantizationConfig> parse_quantization_config(std::string_view config_json, std::string_view origin);

// DIR/config.json's quantization_config, else DIR/quantize_config.json (AutoGPTQ's older file, whose
// fields sit at the top level and whose method is GPTQ unless it says otherwise).
std::optional<QuantizationConfig> load_quantization_config(const std::filesystem::path& model_dir);

// The integer widths Sabre repacks (pack_grouped_ints): 2, 4 and 8 bits, whichever method wrote them.
constexpr bool repacked_int_bits(int bits) { return bits == 2 || bits == 4 || bits == 8; }

// Throws ConfigError, naming the checkpoint, the field and the settings Sabre reads instead, for a
// quantisation Sabre cannot load: a method other than gptq, awq, fp8 and compressed-tensors; integer
// weights of other widths than repacked_int_bits (3-bit GPTQ or compressed-tensors);
// groups of fewer than 32 inputs; AWQ's GEMV layout; a compressed-tensors format, type, bit width or
// strategy outside int4/int8 weights and FP8; sparse compressed-tensors.
void check_supported_quantization(const QuantizationConfig& config, std::string_view origin);

}  // namespace sabre
