// load_model_context: tokenizer and chat template from a GGUF file, an HF directory with --tokenizer,
// and a --chat-template file; a model with neither.

#include <catch2/catch.hpp>

#include <fstream>

#include "io/openai/chat_request.hpp"
#include "io/openai/model_context.hpp"
#include "model/checkpoint.hpp"
#include "test_context.hpp"

using namespace sabre;
using namespace sabre::openai;

namespace {

const std::filesystem::path kFixtures = SABRE_TEST_FIXTURES;

std::filesystem::path template_file() { return std::filesystem::temp_directory_path() / "sabre_openai_test_template.jinja"; }

// The tiny Llama fixture with the byte tokenizer and `template_text` as its --chat-template file.
ModelContext context_with_template_file(const std::string& template_text) {
  const std::filesystem::path file = template_file();
  {
    std::ofstream out(file);
    out << template_text;
  }
  const Checkpoint checkpoint = open_checkpoint(kFixtures / "models" / "llama_gqa_bf16");
  ModelContext context = load_model_context(checkpoint, kFixtures / "models" / "byte_tokenizer", file, "tiny", 128);
  std::filesystem::remove(file);
  return context;
}

}  // namespace

TEST_CASE("model context: a GGUF file brings its tokenizer and chat template", "[openai]") {
  const auto gguf = kFixtures / ".." / ".." / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf";
  if (!std::filesystem::exists(gguf)) {
    WARN("SKIPPED: no " << gguf);
    return;
  }
  const ModelContext context = load_model_context(open_checkpoint(gguf), {}, {}, "smol", 2048);
  REQUIRE(context.tokenizer);
  REQUIRE(context.chat_template);
  CHECK(context.vocab_size == 49152);
  CHECK(context.served_model_name == "smol");
  auto plan = parse_chat_request(R"({"messages":[{"role":"user","content":"Hi"}]})", context);
  REQUIRE(plan);
  CHECK(plan->prompt_text.find("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") != std::string::npos);
}

TEST_CASE("model context: --tokenizer supplies the tokenizer and template an HF directory lacks", "[openai]") {
  SABRE_REQUIRE_QWEN3();
  const Checkpoint checkpoint = open_checkpoint(kFixtures / "models" / "qwen3_qknorm");
  const ModelContext bare = load_model_context(checkpoint, {}, {}, "tiny", 128);
  CHECK_FALSE(bare.tokenizer);
  CHECK_FALSE(bare.chat_template);
  auto refused = parse_chat_request(R"({"messages":[{"role":"user","content":"Hi"}]})", bare);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("no chat template") != std::string::npos);

  ModelContext with = load_model_context(checkpoint, sabre::openai::test::qwen3_dir(), {}, "tiny", 128);
  REQUIRE(with.tokenizer);
  REQUIRE(with.chat_template);
  // The tiny model's 256 ids cannot hold Qwen3's: checked against them the prompt would be refused (the
  // codec checks prompts against the model's limits). Against the tokenizer's own vocabulary it parses.
  CHECK_FALSE(parse_chat_request(R"({"messages":[{"role":"user","content":"Hi"}]})", with));
  with.vocab_size = 0;
  CHECK(parse_chat_request(R"({"messages":[{"role":"user","content":"Hi"}]})", with));
}

TEST_CASE("model context: --chat-template replaces the template", "[openai]") {
  const ModelContext context =
      context_with_template_file("{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}");
  REQUIRE(context.chat_template);
  REQUIRE(context.tokenizer);
  auto plan = parse_chat_request(R"({"messages":[{"role":"user","content":"Hi"}]})", context);
  REQUIRE(plan);
  const std::string bos = context.chat_template->special_tokens().bos_token.value_or("");
  CHECK(plan->prompt_text == bos + "[user] Hi\n");
}

TEST_CASE("model context: a --chat-template file's errors name that file", "[openai]") {
  const ModelContext context = context_with_template_file("{{ raise_exception('no system messages') }}");
  const auto plan = parse_chat_request(R"({"messages":[{"role":"user","content":"Hi"}]})", context);
  REQUIRE_FALSE(plan);
  CHECK_THAT(plan.error().message, Catch::Contains("chat template " + template_file().string() + " line 1") &&
                                       Catch::Contains("no system messages"));
}
