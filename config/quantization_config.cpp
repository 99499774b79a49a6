#include "config/quantization_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "config/json_fields.hpp"
#include "config/text/read_file.hpp"

namespace sabre {
namespace {

// quant_method values of transformers' and vLLM's quantisation configs.
constexpr std::array<std::string_view, 14> kKnownMethods = {
    "gptq",  "awq",     "fp8",        "compressed-tensors", "bitsandbytes", "gptq_marlin", "awq_marlin",
    "marlin", "hqq",    "aqlm",       "eetq",               "exl2",         "fbgemm_fp8",  "modelopt"};

bool is_power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

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
  if (const auto blocks = q.get("weight_block_size")) {
    simdjson::dom::array list;
    if (blocks->get_array().get(list)) q.fail("weight_block_size", "is not a list of integers");
    for (simdjson::dom::element e : list) {
      int64_t n = 0;
      if (e.get_int64().get(n) || n <= 0) q.fail("weight_block_size", "is not a list of positive integers");
      c.weight_block_size.push_back(n);
    }
  }
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

void require_supported_quantization(const QuantizationConfig& config, std::string_view origin) {
  throw ConfigError(fmt::format(
      "{}: its weights are quantised (quantization_config: {}), which Sabre cannot load yet; it loads quantised "
      "GGUF files (every llama.cpp block format: Q4_K_M, Q8_0, ...) and unquantised safetensors (BF16, F16, F32)",
      origin, config.summary()));
}

}  // namespace sabre
