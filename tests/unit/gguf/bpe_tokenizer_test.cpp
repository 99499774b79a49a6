// Byte-level BPE GGUF tokenizers with the "qwen2" and "llama-bpe" pre-tokenizers (Qwen2/2.5/3 and Llama 3
// GGUF files): the tokenizer metadata llama.cpp's converter would write for the shared Qwen3 and Llama 3.1
// tokenizers, turned into tokenizer.json by tokenizer_json_from_gguf, must tokenize like llama.cpp and
// transformers on the same metadata (tests/fixtures/gguf/make_bpe_goldens.py). Skips when ../shared is
// missing.

#include <catch2/catch.hpp>
#include <simdjson.h>

#include <filesystem>
#include <string>
#include <vector>

#include "model/tokenizer/tokenizer.hpp"
#include "model/weights/gguf_tokenizer_json.hpp"

namespace {

namespace fs = std::filesystem;

std::vector<int32_t> ids_of(simdjson::dom::array array) {
  std::vector<int32_t> out;
  for (auto v : array) out.push_back(static_cast<int32_t>(int64_t(v)));
  return out;
}

// The metadata llama.cpp's converter writes for a tokenizer.json (see make_bpe_goldens.py).
sabre::GgufTokenizerMetadata metadata_from_tokenizer_json(const fs::path& path, std::string_view pre, bool add_bos,
                                                          std::string_view bos, std::string_view eos) {
  simdjson::dom::parser parser;
  auto doc = parser.load(path.string());
  sabre::GgufTokenizerMetadata meta;
  meta.origin = path.string();
  meta.model = "gpt2";
  meta.pre = std::string(pre);
  auto vocab = doc["model"]["vocab"].get_object();
  auto added = doc["added_tokens"].get_array();
  size_t size = 0;
  for (auto [token, id] : vocab) size = std::max(size, static_cast<size_t>(int64_t(id)) + 1);
  for (auto a : added) size = std::max(size, static_cast<size_t>(int64_t(a["id"])) + 1);
  meta.tokens.resize(size);
  meta.token_types.assign(size, 1);  // NORMAL
  for (auto [token, id] : vocab) meta.tokens[static_cast<size_t>(int64_t(id))] = std::string(token);
  for (auto a : added) {
    const auto id = static_cast<size_t>(int64_t(a["id"]));
    meta.tokens[id] = std::string(std::string_view(a["content"]));
    meta.token_types[id] = bool(a["special"]) ? 3 : 4;  // CONTROL : USER_DEFINED
  }
  meta.merges.emplace();
  for (auto m : doc["model"]["merges"].get_array()) {
    if (m.is_string()) {
      meta.merges->emplace_back(std::string_view(m));
    } else {
      auto pair = m.get_array();
      meta.merges->push_back(std::string(std::string_view(pair.at(0))) + " " + std::string(std::string_view(pair.at(1))));
    }
  }
  for (size_t id = 0; id < meta.tokens.size(); ++id) {
    if (meta.tokens[id] == bos) meta.bos_id = static_cast<int64_t>(id);
    if (meta.tokens[id] == eos) meta.eos_id = static_cast<int64_t>(id);
  }
  meta.add_bos = add_bos;
  return meta;
}

}  // namespace

TEST_CASE("byte-level GGUF tokenizers with the qwen2 and llama-bpe pre-tokenizers match llama.cpp and transformers", "[gguf][tokenizer]") {
  struct Setup {
    const char* name;
    const char* bos;
    const char* eos;
  };
  const auto setup = GENERATE(Setup{"qwen3", "<|endoftext|>", "<|im_end|>"},
                              Setup{"llama3_1", "<|begin_of_text|>", "<|eot_id|>"});
  INFO("tokenizer " << setup.name);
  const fs::path source = fs::path(SABRE_SHARED_DIR) / "models" / "tokenizers" / setup.name / "tokenizer.json";
  if (!fs::exists(source)) {
    WARN("SKIPPED: " << source.string() << " is missing");
    return;
  }
  simdjson::dom::parser parser;
  auto golden = parser.load((fs::path(SABRE_TEST_FIXTURES) / "gguf" /
                             (std::string("bpe_goldens_") + setup.name + ".json")).string());
  const auto meta = metadata_from_tokenizer_json(source, std::string_view(golden["pre"]), bool(golden["add_bos"]),
                                                 setup.bos, setup.eos);
  const auto tokenizer = sabre::Tokenizer::from_json(sabre::tokenizer_json_from_gguf(meta), source.string());

  auto texts = golden["texts"].get_array();
  auto llama_cpp = golden["llama_cpp_ids"].get_array();
  auto transformers = golden["transformers_ids"].get_array();
  // Where llama.cpp and transformers agree, Sabre must give the same ids. They disagree on a few strings:
  // - Qwen3: llama.cpp turns any vocabulary token spelled like an end-of-generation marker ("</s>" is an
  //   ordinary Qwen token) into a control token and matches it inside text; transformers, like Qwen's own
  //   tokenizer.json, does not. Sabre follows transformers there.
  // - Llama 3: transformers' GGUF loader omits ignore_merges (set in Llama 3's own tokenizer.json) and
  //   adds a stray "<|endoftext|>" token; Sabre follows llama.cpp there.
  // Either way Sabre must give one of the two answers.
  size_t mismatches = 0, references_disagree = 0, sided_with_llama_cpp = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::string_view text = texts.at(i);
    const auto ids = tokenizer.encode(text, true);
    const auto want_llama = ids_of(llama_cpp.at(i).get_array());
    const auto want_hf = ids_of(transformers.at(i).get_array());
    if (want_hf == want_llama) {
      if (ids != want_llama) {
        ++mismatches;
        UNSCOPED_INFO("llama.cpp and transformers both differ from Sabre on string " << i << ": " << text);
      }
      continue;
    }
    ++references_disagree;
    if (ids == want_llama) {
      ++sided_with_llama_cpp;
    } else if (ids != want_hf) {
      ++mismatches;
      UNSCOPED_INFO("Sabre matches neither reference on string " << i << ": " << text);
    }
    if (std::string_view(setup.name) == "qwen3") {
      CHECK(text.find("</s>") != std::string_view::npos);
    }
  }
  INFO(texts.size() << " strings; the references disagree on " << references_disagree << ", Sabre sides with "
                    << "llama.cpp on " << sided_with_llama_cpp);
  CHECK(mismatches == 0);
  CHECK(references_disagree < texts.size() / 20);
  if (std::string_view(setup.name) == "qwen3") {
    CHECK(sided_with_llama_cpp == 0);
  } else {
    CHECK(sided_with_llama_cpp == references_disagree);
  }
}
