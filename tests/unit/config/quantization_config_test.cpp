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

  q = parse(R"({"quant_method": "compressed-tensors", "format": "int-quantized",
                "config_groups": {"g": {"weights": {"num_bits": 8, "type": "int", "strategy": "channel"}}}})");
  CHECK(q->method == "compressed-tensors");
  CHECK(q->summary() == "compressed-tensors, 8-bit, int-quantized, int weights, channel scales");
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

TEST_CASE("quantization config: quantize_config.json", "[config][quant]") {
  const auto dir = std::filesystem::temp_directory_path() / ("sabre-quant-config-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"architectures": ["LlamaForCausalLM"]})";
  CHECK_FALSE(load_quantization_config(dir).has_value());
  std::ofstream(dir / "quantize_config.json") << R"({"bits": 4, "group_size": 64, "desc_act": true, "sym": false})";
  const auto q = load_quantization_config(dir);
  REQUIRE(q);
  CHECK(q->summary() == "gptq, 4-bit, group size 64, desc_act, with zero points");
  CHECK_NOTHROW(check_supported_quantization(*q, dir.string()));
  std::filesystem::remove_all(dir);
}

TEST_CASE("quantization config: compressed-tensors' weight scheme comes from config_groups", "[config][quant]") {
  const auto q = parse(R"({"quant_method": "compressed-tensors", "format": "pack-quantized",
      "config_groups": {"group_0": {"targets": ["Linear"], "input_activations": null,
        "weights": {"num_bits": 4, "type": "int", "symmetric": false, "strategy": "group", "group_size": 64}}},
      "ignore": ["lm_head"]})");
  REQUIRE(q);
  CHECK(q->bits == 4);
  CHECK(q->group_size == 64);
  CHECK(q->sym == std::optional<bool>(false));
  CHECK(q->format == "pack-quantized");
  CHECK(q->weight_type == "int");
  CHECK(q->strategy == "group");
  CHECK_NOTHROW(check_supported_quantization(*q, "dir"));
  const auto fp8 = parse(R"({"quant_method": "compressed-tensors", "format": "float-quantized",
      "config_groups": {"a": {"weights": {"num_bits": 8, "type": "float", "strategy": "block",
                                          "block_structure": [128, 128]}}}})");
  REQUIRE(fp8);
  CHECK(fp8->weight_block_size == std::vector<int64_t>{128, 128});
  CHECK_NOTHROW(check_supported_quantization(*fp8, "dir"));
  CHECK_THROWS_WITH(parse(R"({"quant_method": "compressed-tensors", "format": "pack-quantized",
      "config_groups": {"a": {"weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128}},
                        "b": {"weights": {"num_bits": 8, "type": "int", "strategy": "channel"}}}})"),
                    Contains("config_groups.b") && Contains("differs from a's"));
  CHECK_THROWS_WITH(parse(R"({"quant_method": "compressed-tensors", "format": "pack-quantized"})"),
                    Contains("config_groups") && Contains("missing"));
}

TEST_CASE("quantization config: what Sabre cannot load is refused naming the setting", "[config][quant]") {
  const auto refused = [](const std::string& json) {
    const auto q = parse(json);
    REQUIRE(q);
    return [q] { check_supported_quantization(*q, "/models/x"); };
  };
  CHECK_THROWS_WITH(refused(R"({"quant_method": "bitsandbytes", "load_in_4bit": true})")(),
                    Contains("/models/x") && Contains("bitsandbytes") && Contains("gptq, awq, fp8"));
  CHECK_THROWS_WITH(refused(R"({"quant_method": "gptq", "bits": 3, "group_size": 128})")(), Contains("3-bit GPTQ"));
  CHECK_THROWS_WITH(refused(R"({"quant_method": "gptq", "bits": 4, "group_size": 16})")(), Contains("group_size 16"));
  CHECK_THROWS_WITH(refused(R"({"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemv"})")(),
                    Contains("GEMM layout"));
  CHECK_THROWS_WITH(refused(R"({"quant_method": "gptq", "bits": 4, "group_size": 128, "checkpoint_format": "marlin"})")(),
                    Contains("checkpoint_format \"marlin\""));
  CHECK_THROWS_WITH(refused(R"({"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized",
      "config_groups": {"a": {"weights": {"num_bits": 4, "type": "float", "strategy": "tensor_group"}}}})")(),
                    Contains("format \"nvfp4-pack-quantized\""));
  CHECK_THROWS_WITH(refused(R"({"quant_method": "compressed-tensors", "format": "pack-quantized",
      "sparsity_config": {"format": "sparse-24"},
      "config_groups": {"a": {"weights": {"num_bits": 4, "type": "int", "strategy": "channel"}}}})")(),
                    Contains("sparsity_config"));
  CHECK_THROWS_WITH(refused(R"({"quant_method": "compressed-tensors", "format": "int-quantized",
      "config_groups": {"a": {"weights": {"num_bits": 4, "type": "int", "strategy": "channel"}}}})")(),
                    Contains("only pack-quantized"));
  CHECK_THROWS_WITH(refused(R"({"quant_method": "compressed-tensors", "format": "pack-quantized",
      "config_groups": {"a": {"weights": {"num_bits": 3, "type": "int", "strategy": "group", "group_size": 128}}}})")(),
                    Contains("num_bits 3") && Contains("2, 4 or 8 bits"));
}
