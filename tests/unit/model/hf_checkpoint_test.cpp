// open_hf_checkpoint / open_checkpoint on Hugging Face directories: what a Checkpoint carries, and the
// errors for directories that lack a part.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>

#include "model/checkpoint.hpp"

using namespace sabre;
namespace fs = std::filesystem;

namespace {

const fs::path kModels = fs::path(SABRE_TEST_FIXTURES) / "models";

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("sabre_ckpt_test_" + std::to_string(std::random_device{}()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("an HF directory becomes a Checkpoint", "[checkpoint]") {
  Checkpoint c = open_checkpoint(kModels / "qwen2_bias");
  CHECK(c.path == kModels / "qwen2_bias");
  CHECK(c.config.architecture == Architecture::qwen2);
  CHECK(c.config.eos_token_ids == std::vector<int32_t>{2, 4});  // config's 2 + generation_config's [2, 4]
  CHECK(c.generation.temperature == 0.7);
  CHECK(c.generation.top_p == 0.8);
  CHECK(c.generation.top_k == 20);
  CHECK(c.generation.repetition_penalty == 1.05);
  REQUIRE(c.weights != nullptr);
  CHECK(c.weights->find("model.embed_tokens.weight") != nullptr);
  CHECK(c.tokenizer_json.empty());  // the tiny models ship no tokenizer
  CHECK(c.tokenizer_config_json.empty());
  CHECK(c.chat_template_jinja.empty());
}

TEST_CASE("tokenizer files are read when present", "[checkpoint]") {
  TempDir dir;
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors"}) {
    fs::copy_file(kModels / "qwen3_qknorm" / f, dir.path / f);
  }
  for (const char* f : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::copy_file(kModels / "byte_tokenizer" / f, dir.path / f);
  }
  Checkpoint c = open_hf_checkpoint(dir.path);
  CHECK_THAT(c.tokenizer_json, Catch::Contains("\"<|eot|>\""));
  CHECK_THAT(c.tokenizer_config_json, Catch::Contains("chat_template"));
  CHECK(c.chat_template_jinja.empty());
  std::ofstream(dir.path / "chat_template.jinja") << "{{ messages[0].content }}";
  CHECK(open_hf_checkpoint(dir.path).chat_template_jinja == "{{ messages[0].content }}");
}

TEST_CASE("incomplete directories are refused with the missing part named", "[checkpoint]") {
  TempDir dir;
  CHECK_THROWS_WITH(open_hf_checkpoint(dir.path / "nope"), Catch::Contains("nope"));
  CHECK_THROWS_WITH(open_hf_checkpoint(dir.path), Catch::Contains("config.json"));
  fs::copy_file(kModels / "qwen3_qknorm" / "config.json", dir.path / "config.json");
  CHECK_THROWS_WITH(open_hf_checkpoint(dir.path), Catch::Contains("model.safetensors"));
  std::ofstream(dir.path / "generation_config.json") << R"({"top_p": "high"})";
  CHECK_THROWS_WITH(open_hf_checkpoint(dir.path),
                    Catch::Contains("generation_config.json") && Catch::Contains("'top_p'"));
}

TEST_CASE("a quantisation Sabre cannot read is refused at open with its method, before its tensors are read",
          "[checkpoint][quant]") {
  TempDir dir;
  for (const char* file : {"config.json", "model.safetensors"}) {
    fs::copy_file(kModels / "qwen3_qknorm" / file, dir.path / file);
  }
  std::ifstream in(dir.path / "config.json");
  std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  config.insert(config.find('{') + 1,
                R"("quantization_config": {"quant_method": "gptq", "bits": 3, "group_size": 128, "sym": true},)");
  std::ofstream(dir.path / "config.json") << config;
  CHECK_THROWS_WITH(open_hf_checkpoint(dir.path), Catch::Contains(dir.path.string()) &&
                                                      Catch::Contains("quantization_config (gptq, 3-bit, group size 128") &&
                                                      Catch::Contains("3-bit GPTQ is not supported"));
}

TEST_CASE("quantised layers without a quantization_config are refused at open, naming a part", "[checkpoint][quant]") {
  TempDir dir;
  // The AWQ fixture's tensors under its base model's config.json, which has no quantization_config.
  fs::copy_file(kModels / "qwen2_bias" / "config.json", dir.path / "config.json");
  fs::copy_file(kModels / "quantized" / "awq_4bit_g64" / "model.safetensors", dir.path / "model.safetensors");
  CHECK_THROWS_WITH(open_hf_checkpoint(dir.path), Catch::Contains(dir.path.string()) && Catch::Contains(".qweight") &&
                                                      Catch::Contains("no quantization_config"));
}
