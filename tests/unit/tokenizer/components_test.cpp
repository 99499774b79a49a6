// Focused checks of tokenizer pieces; expected values were produced by HF `tokenizers` 0.23.3.
#include <catch2/catch.hpp>

#include <filesystem>

#include "golden_cases.hpp"
#include "model/tokenizer/incremental_decoder.hpp"
#include "model/tokenizer/utf8.hpp"

using namespace sabre;
using Ids = std::vector<TokenId>;

namespace {

bool have(const std::string& name) {
  if (std::filesystem::exists(test::shared_tokenizer(name))) return true;
  WARN("SKIPPED: " << test::shared_tokenizer(name) << " is missing");
  return false;
}

}  // namespace

TEST_CASE("llama2: BOS, legacy prefix space after special tokens, byte fallback", "[tokenizer]") {
  if (!have("llama2")) return;
  const auto tok = Tokenizer::from_file(test::shared_tokenizer("llama2"));
  CHECK(tok.encode("Hello world", true) == Ids{1, 22557, 1526});
  CHECK(tok.encode("<s>Hello</s> world", true) == Ids{1, 1, 22557, 2, 28705, 1526});
  CHECK(tok.encode("", true) == Ids{1});
  CHECK(tok.encode("", false).empty());
  // U+1D518 is not in the vocabulary: four <0xNN> byte tokens.
  CHECK(tok.encode("\xF0\x9D\x94\x98", false) == Ids{28705, 243, 160, 151, 155});
  CHECK(tok.decode(Ids{1, 28705, 22557}, false) == "<s>  Hello");
  CHECK(tok.decode(Ids{1, 28705, 22557}, true) == " Hello");
  // A lone lead byte decodes to U+FFFD, as from_utf8_lossy does.
  CHECK(tok.decode(Ids{200, 1, 201}, true) == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(tok.is_special(1));
  CHECK_FALSE(tok.is_special(22557));
  CHECK(tok.vocab_size() == 32000);
  CHECK(tok.token_to_id("<0x0A>") == 13);
  CHECK(tok.id_to_token(2) == "</s>");
  CHECK_FALSE(tok.id_to_token(1'000'000).has_value());
}

TEST_CASE("qwen3: special tokens in text, no BOS", "[tokenizer]") {
  if (!have("qwen3")) return;
  const auto tok = Tokenizer::from_file(test::shared_tokenizer("qwen3"));
  CHECK(tok.encode("hi<|im_start|>user\n", true) == Ids{6023, 151644, 872, 198});
  CHECK(tok.decode(Ids{151644, 151644}, true).empty());
  CHECK(tok.decode(Ids{151644, 872}, false) == "<|im_start|>user");
  CHECK(tok.token_to_id("<|im_end|>") == 151645);
  CHECK(tok.is_special(151645));
  CHECK_FALSE(tok.is_special(151668));  // </think> is an added token but not special
}

TEST_CASE("incremental decoder holds back a character split over byte tokens", "[tokenizer][incremental]") {
  if (!have("llama2")) return;
  const auto tok = Tokenizer::from_file(test::shared_tokenizer("llama2"));
  const Ids ids = tok.encode("a \xF0\x9D\x94\x98 b", false);  // ▁a ▁ <0xF0> <0x9D> <0x94> <0x98> ▁b
  IncrementalDecoder stream(tok, true);
  std::vector<std::string> pieces;
  for (TokenId id : ids) pieces.push_back(stream.push(id));
  pieces.push_back(stream.flush());
  std::string joined;
  for (const auto& p : pieces) {
    CHECK(utf8::is_valid(p));
    CHECK(p.find("\xEF\xBF\xBD") == std::string::npos);  // no replacement char while bytes are pending
    joined += p;
  }
  CHECK(joined == "a \xF0\x9D\x94\x98 b");
  CHECK(joined == tok.decode(ids, true));
}

TEST_CASE("incremental decoder with prompt context keeps the first token's leading space", "[tokenizer][incremental]") {
  if (!have("llama2")) return;
  const auto tok = Tokenizer::from_file(test::shared_tokenizer("llama2"));
  const Ids prompt = tok.encode("Hello", true);
  IncrementalDecoder stream(tok, true, prompt);
  CHECK(stream.push(1526) == " world");  // a full decode of the reply alone would strip that space
}

TEST_CASE("errors name the file and the unsupported component", "[tokenizer]") {
  const std::string json = R"({"model": {"type": "Unigram", "vocab": []}})";
  CHECK_THROWS_WITH(Tokenizer::from_json(json, "x/tokenizer.json"),
                    Catch::Contains("x/tokenizer.json") && Catch::Contains("Unigram"));
  const std::string bad_norm = R"({"normalizer": {"type": "BertNormalizer"},
                                   "model": {"type": "BPE", "vocab": {}, "merges": []}})";
  CHECK_THROWS_WITH(Tokenizer::from_json(bad_norm, "y.json"),
                    Catch::Contains("y.json") && Catch::Contains("normalizer") && Catch::Contains("BertNormalizer"));
  CHECK_THROWS_WITH(Tokenizer::from_json("{not json", "z.json"), Catch::Contains("z.json"));
  const std::string bad_merge = R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}})";
  CHECK_THROWS_WITH(Tokenizer::from_json(bad_merge, "m.json"),
                    Catch::Contains("m.json") && Catch::Contains("merges[0]") && Catch::Contains("a b"));
  CHECK_THROWS_WITH(Tokenizer::from_file("/nonexistent/tokenizer.json"), Catch::Contains("/nonexistent/tokenizer.json"));
}

TEST_CASE("a minimal in-memory BPE with pair-form merges, Metaspace and Digits", "[tokenizer]") {
  // Tiny vocabulary: merges "▁ a" then "▁a b"; Digits splits numbers one by one. The expected ids were
  // checked with tokenizers.Tokenizer.from_str on the same JSON.
  const std::string json = R"({
    "added_tokens": [{"id": 7, "content": "<x>", "special": true, "lstrip": true, "rstrip": false,
                      "single_word": false, "normalized": false}],
    "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
        {"type": "Digits", "individual_digits": true}]},
    "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
    "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "vocab":
        {"<unk>": 0, "▁": 1, "a": 2, "b": 3, "▁a": 4, "▁ab": 5, "1": 6, "<x>": 7},
      "merges": [["▁", "a"], ["▁a", "b"]]}})";
  const auto tok = Tokenizer::from_json(json, "inline");
  CHECK(tok.encode("ab a", false) == Ids{5, 4});
  CHECK(tok.encode("ab11", false) == Ids{5, 6, 6});
  CHECK(tok.encode("zz", false) == Ids{1, 0});  // unknown characters fused into one <unk>
  CHECK(tok.encode("ab   <x>", false) == Ids{5, 7});  // lstrip swallows the spaces before <x>
  CHECK(tok.decode(Ids{5, 4}, false) == "ab a");
}
