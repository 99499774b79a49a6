#include "config/quantization_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/json_fields.hpp"
#include "config/text/read_file.hpp"

namespace sabre {
namespace {

// quant_method values of transformers' and vLLM's quantisation configs.
constexpr std::array<std::string_view, 14> kKnownMethods = {
    "gptq",  "awq",     "fp8",        "compressed-tensors", "bitsandbytes", "gptq_marlin", "awq_marlin",
    "marlin", "hqq",    "aqlm",       "eetq",               "exl2",         "fbgemm_fp8",  "modelopt"};

bool is_power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

// The list of positive integers at `key` (a block size), empty when absent or null.
std::vector<int64_t> positive_ints(const JsonFields& fields, std::string_view key) {
  std::vector<int64_t> out;
  const auto value = fields.get(key);
  if (!value) return out;
  simdjson::dom::array list;
  if (value->get_array().get(list)) fields.fail(key, "is not a list of integers");
  for (simdjson::dom::element e : list) {
    int64_t n = 0;
    if (e.get_int64().get(n) || n <= 0) fields.fail(key, "is not a list of positive integers");
    out.push_back(n);
  }
  return out;
}

// The weights scheme of compressed-tensors' config_groups: {"group_0": {"weights": {"num_bits": 4,
// "type": "int", "symmetric": true, "strategy": "group", "group_size": 128, ...}, "targets": [...]}}.
struct WeightScheme {
  int64_t bits = 0;
  std::string type;
  std::optional<bool> sym;
  std::string strategy;
  int64_t group_size = 0;
  std::vector<int64_t> block;
  bool operator==(const WeightScheme&) const = default;
};

WeightScheme read_weight_scheme(const JsonFields& weights) {
  WeightScheme w;
  w.bits = weights.optional_int("num_bits").value_or(0);
  w.type = weights.optional_string("type").value_or("int");
  w.sym = weights.optional_bool("symmetric");
  w.strategy = weights.optional_string("strategy").value_or("");
  w.group_size = weights.optional_int("group_size").value_or(0);
  w.block = positive_ints(weights, "block_structure");
  return w;
}

void read_compressed_tensors(const JsonFields& q, QuantizationConfig& c) {
  c.format = q.optional_string("format").value_or("");
  c.sparse = q.has("sparsity_config");
  const auto groups = q.optional_object("config_groups");
  if (!groups) q.fail("config_groups", "is missing: compressed-tensors names its weight scheme there");
  std::optional<std::pair<std::string, WeightScheme>> first;
  for (const auto [key, value] : groups->object()) {
    simdjson::dom::object group;
    if (value.get_object().get(group)) groups->fail(key, "is not an object");
    const JsonFields scheme(group, groups->origin(), fmt::format("quantization_config.config_groups.{}", key));
    const auto weights = scheme.optional_object("weights");
    if (!weights) continue;  // activations only
    const WeightScheme w = read_weight_scheme(*weights);
    if (!first) {
      first.emplace(std::string(key), w);
    } else if (!(w == first->second)) {
      scheme.fail("weights",
                  fmt::format("differs from {}'s weights scheme; Sabre reads checkpoints with one scheme", first->first));
    }
  }
  if (!first) q.fail("config_groups", "has no group with a weights scheme");
  const WeightScheme& w = first->second;
  c.bits = w.bits;
  c.weight_type = w.type;
  c.sym = w.sym;
  c.strategy = w.strategy;
  c.group_size = w.group_size;
  c.weight_block_size = w.block;
}

QuantizationConfig read_fields(const JsonFields& q, std::optional<std::string> default_method) {
  QuantizationConfig c;
  const auto method = q.optional_string("quant_method");
  if (!method && !default_method) q.fail("quant_method", "is missing: the quantisation method is not named");
  c.method = method.value_or(default_method.value_or(""));
  std::transform(c.method.begin(), c.method.end(), c.method.begin(), [](unsigned char ch) { return std::tolower(ch); });
  if (std::find(kKnownMethods.begin(), kKnownMethods.end(), c.method) == kKnownMethods.end()) {
    q.fail("quant_method", fmt::format("is \"{}\", a quantisation method Sabre does not know (known: {})", c.method,
                                       fmt::join(kKnownMethods, ", ")));
  }
  c.bits = q.optional_int("bits").value_or(q.optional_int("w_bit").value_or(0));
  c.group_size = q.optional_int("group_size").value_or(q.optional_int("q_group_size").value_or(0));
  c.desc_act = q.optional_bool("desc_act").value_or(false);
  c.sym = q.optional_bool("sym");
  if (const auto zero_point = q.optional_bool("zero_point")) c.sym = !*zero_point;  // AWQ's spelling
  c.checkpoint_format = q.optional_string("checkpoint_format").value_or(q.optional_string("version").value_or(""));
  c.weight_block_size = positive_ints(q, "weight_block_size");
  if (c.method == "compressed-tensors") read_compressed_tensors(q, c);
  if (c.method == "gptq" && c.bits != 2 && c.bits != 3 && c.bits != 4 && c.bits != 8) {
    q.fail("bits", fmt::format("is {}; GPTQ checkpoints have 2, 3, 4 or 8 bits", c.bits));
  }
  if (c.method == "awq" && c.bits != 4) q.fail("bits", fmt::format("is {}; AWQ checkpoints have 4 bits", c.bits));
  if ((c.method == "gptq" || c.method == "awq") && c.group_size != -1 && !is_power_of_two(c.group_size)) {
    q.fail("group_size", fmt::format("is {}; a group size is -1 (per channel) or a power of two", c.group_size));
  }
  return c;
}

}  // namespace

std::string QuantizationConfig::summary() const {
  std::string s = method;
  if (bits > 0) s += fmt::format(", {}-bit", bits);
  if (group_size == -1) s += ", per-channel scales";
  if (group_size > 0) s += fmt::format(", group size {}", group_size);
  if (desc_act) s += ", desc_act";
  if (sym) s += *sym ? ", symmetric" : ", with zero points";
  if (!weight_block_size.empty()) s += fmt::format(", {} weight blocks", fmt::join(weight_block_size, "x"));
  if (!checkpoint_format.empty()) s += fmt::format(", format {}", checkpoint_format);
  if (!format.empty()) s += fmt::format(", {}", format);
  if (!weight_type.empty()) s += fmt::format(", {} weights", weight_type);
  if (!strategy.empty()) s += fmt::format(", {} scales", strategy);
  if (sparse) s += ", sparse";
  return s;
}

std::optional<QuantizationConfig> parse_quantization_config(std::string_view config_json, std::string_view origin) {
  simdjson::dom::parser parser;
  const JsonFields config = JsonFields::parse_object(parser, config_json, origin);
  const auto q = config.optional_object("quantization_config");
  if (!q) return std::nullopt;
  return read_fields(*q, std::nullopt);
}

std::optional<QuantizationConfig> load_quantization_config(const std::filesystem::path& model_dir) {
  if (const auto text = read_text_file_if_exists(model_dir / "config.json")) {
    if (auto q = parse_quantization_config(*text, (model_dir / "config.json").string())) return q;
  }
  const std::filesystem::path older = model_dir / "quantize_config.json";
  const auto text = read_text_file_if_exists(older);
  if (!text) return std::nullopt;
  simdjson::dom::parser parser;
  return read_fields(JsonFields::parse_object(parser, *text, older.string()), std::string("gptq"));
}

void check_supported_quantization(const QuantizationConfig& c, std::string_view origin) {
  const auto refuse = [&](std::string_view why) {
    throw ConfigError(fmt::format("{}: quantization_config ({}): {}", origin, c.summary(), why));
  };
  if (c.method == "gptq") {
    if (!repacked_int_bits(c.bits)) refuse(fmt::format("{}-bit GPTQ is not supported (2-, 4- and 8-bit are)", c.bits));
    if (!c.checkpoint_format.empty() && c.checkpoint_format != "gptq" && c.checkpoint_format != "gptq_v2") {
      refuse(fmt::format("checkpoint_format \"{}\" is not one Sabre reads (gptq, gptq_v2)", c.checkpoint_format));
    }
  } else if (c.method == "awq") {
    if (!c.checkpoint_format.empty() && c.checkpoint_format != "gemm") {
      refuse(fmt::format("version \"{}\": Sabre reads AWQ's GEMM layout (version \"gemm\") only", c.checkpoint_format));
    }
  } else if (c.method == "fp8") {
    if (!c.weight_block_size.empty() && c.weight_block_size.size() != 2) refuse("weight_block_size should have 2 entries");
  } else if (c.method == "compressed-tensors") {
    if (c.sparse) refuse("sparsity_config is set; Sabre reads dense compressed-tensors checkpoints only");
    if (c.format != "pack-quantized" && c.format != "int-quantized" && c.format != "float-quantized" &&
        c.format != "naive-quantized") {
      refuse(fmt::format("format \"{}\" is not one Sabre reads (pack-quantized, int-quantized, float-quantized, "
                         "naive-quantized)", c.format));
    }
    if (c.weight_type == "float" && c.bits != 8) refuse(fmt::format("{}-bit float weights: Sabre reads FP8 (8)", c.bits));
    if (c.weight_type == "int" && !repacked_int_bits(c.bits)) {
      refuse(fmt::format("num_bits {}: Sabre reads integer weights of 2, 4 or 8 bits", c.bits));
    }
    if (c.weight_type == "int" && c.format != "pack-quantized" && c.bits != 8) {
      refuse(fmt::format("{}-bit weights in format {}: only pack-quantized packs fewer than 8 bits", c.bits, c.format));
    }
    if (c.weight_type != "int" && c.weight_type != "float") refuse(fmt::format("weights type \"{}\"", c.weight_type));
    if (c.strategy != "tensor" && c.strategy != "channel" && c.strategy != "group" && c.strategy != "block") {
      refuse(fmt::format("strategy \"{}\" is not one Sabre reads (tensor, channel, group, block)", c.strategy));
    }
    if (c.strategy == "block" && c.weight_block_size.size() != 2) refuse("block strategy without a 2-entry block_structure");
  } else {
    refuse("Sabre reads gptq, awq, fp8 and compressed-tensors checkpoints, and quantised GGUF files");
  }
  if (c.group_size > 0 && c.group_size < 32) {
    refuse(fmt::format("group_size {}: groups of fewer than 32 inputs are not supported", c.group_size));
  }
}

}  // namespace sabre
