// Unicode normalizers against what `tokenizers`' own normalizers give on the corpus (normalizer_goldens.json).
#include <catch2/catch.hpp>
#include <simdjson.h>

#include "golden_cases.hpp"
#include "model/tokenizer/normalizer.hpp"

using namespace sabre;

TEST_CASE("NFC, NFD, NFKC, NFKD and Lowercase match tokenizers on the corpus", "[tokenizer][normalizer]") {
  simdjson::dom::parser corpus_parser;
  simdjson::dom::element corpus = corpus_parser.load((test::fixture_dir() / "corpus.json").string());
  simdjson::dom::parser parser;
  simdjson::dom::element goldens = parser.load((test::fixture_dir() / "normalizer_goldens.json").string());
  for (const char* form : {"NFC", "NFD", "NFKC", "NFKD", "Lowercase"}) {
    const std::string spec = std::string(R"({"type": ")") + form + "\"}";
    simdjson::dom::parser spec_parser;
    const auto normalizer = make_normalizer(spec_parser.parse(spec), tokenizer_json::Where{"test", "normalizer"});
    simdjson::dom::array expected = goldens[form].get_array();
    REQUIRE(expected.size() == corpus.get_array().size());
    size_t i = 0;
    size_t failures = 0;
    for (auto text : corpus.get_array()) {
      std::string s{std::string_view(text)};
      normalizer->normalize(s);
      const std::string_view want = expected.at(i++);
      if (s != want && ++failures <= 5) UNSCOPED_INFO(form << " of corpus[" << i - 1 << "] differs");
    }
    CHECK(failures == 0);
  }
}
