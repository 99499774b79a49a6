// config.json's quantization_config (and quantize_config.json): the methods and settings real GPTQ, AWQ,
// FP8 and compressed-tensors checkpoints write are read; a malformed or unknown one is an error naming
// the field; a quantised checkpoint is refused at open with what it is, before its packed tensors.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/json_fields.hpp"
#include "config/quantization_config.hpp"

using namespace sabre;
using Catch::Contains;

namespace {

std::optional<QuantizationConfig> parse(const std::string& quantization) {
  return parse_quantization_config(R"({"architectures": ["LlamaForCausalLM"], "quantization_config": )" + quantization + "}",
                                   "test/config.json");
}

}  // namespace

TEST_CASE("quantization config: the settings of GPTQ, AWQ, FP8 and compressed-tensors checkpoints", "[config][quant]") {
  CHECK_FALSE(parse_quantization_config(R"({"architectures": ["LlamaForCausalLM"]})", "c").has_value());

  // As AutoGPTQ / GPTQModel write it (Qwen2.5-7B-Instruct-GPTQ-Int4).
  auto q = parse(R"({"bits": 4, "group_size": 128, "desc_act": false, "sym": true, "quant_method": "gptq",
                     "checkpoint_format": "gptq", "damp_percent": 0.01})");
  REQUIRE(q);
  CHECK(q->method == "gptq");
  CHECK(q->bits == 4);
  CHECK(q->group_size == 128);
  CHECK_FALSE(q->desc_act);
  CHECK(q->sym == true);
  CHECK(q->summary() == "gptq, 4-bit, group size 128, symmetric, format gptq");

  // AutoAWQ's spelling (zero_point, version).
  q = parse(R"({"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": true, "version": "gemm"})");
  CHECK(q->summary() == "awq, 4-bit, group size 128, with zero points, format gemm");

  // Qwen3-FP8: block-wise weight scales.
  q = parse(R"({"quant_method": "fp8", "activation_scheme": "dynamic", "weight_block_size": [128, 128]})");
  CHECK(q->weight_block_size == std::vector<int64_t>{128, 128});
  CHECK(q->summary() == "fp8, 128x128 weight blocks");

  q = parse(R"({"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {}})");
  CHECK(q->method == "compressed-tensors");
  q = parse(R"({"bits": 8, "group_size": -1, "desc_act": true, "quant_method": "GPTQ"})");
  CHECK(q->summary() == "gptq, 8-bit, per-channel scales, desc_act");
}

TEST_CASE("quantization config: malformed or unknown ones name the field", "[config][quant]") {
  CHECK_THROWS_WITH(parse(R"({"bits": 4})"), Contains("quantization_config.quant_method") && Contains("missing"));
  CHECK_THROWS_WITH(parse(R"({"quant_method": "magic", "bits": 4})"),
                    Contains("\"magic\"") && Contains("does not know") && Contains("gptq"));
  CHECK_THROWS_WITH(parse(R"({"quant_method": "gptq", "bits": 5, "group_size": 128})"),
                    Contains("quantization_config.bits") && Contains("is 5"));
  CHECK_THROWS_WITH(parse(R"({"quant_method": "gptq", "bits": 4, "group_size": 100})"),
                    Contains("quantization_config.group_size") && Contains("is 100"));
  CHECK_THROWS_WITH(parse(R"({"quant_method": "awq", "bits": 8, "group_size": 64})"), Contains("AWQ checkpoints have 4 bits"));
  CHECK_THROWS_WITH(parse(R"({"quant_method": "gptq", "bits": "four", "group_size": 128})"),
                    Contains("quantization_config.bits"));
  CHECK_THROWS_WITH(parse(R"({"quant_method": "fp8", "weight_block_size": [128, 0]})"),
                    Contains("quantization_config.weight_block_size"));
}

TEST_CASE("quantization config: quantize_config.json, and the refusal a quantised checkpoint gets", "[config][quant]") {
  const auto dir = std::filesystem::temp_directory_path() / ("sabre-quant-config-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"architectures": ["LlamaForCausalLM"]})";
  CHECK_FALSE(load_quantization_config(dir).has_value());
  std::ofstream(dir / "quantize_config.json") << R"({"bits": 4, "group_size": 64, "desc_act": true, "sym": false})";
  const auto q = load_quantization_config(dir);
  REQUIRE(q);
  CHECK(q->summary() == "gptq, 4-bit, group size 64, desc_act, with zero points");
  CHECK_THROWS_WITH(require_supported_quantization(*q, dir.string()),
                    Contains(dir.string()) && Contains("quantization_config: gptq, 4-bit, group size 64") &&
                        Contains("GGUF"));
  std::filesystem::remove_all(dir);
}
