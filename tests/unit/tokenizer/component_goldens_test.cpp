// Normalizers, pre-tokenizers, post-processors, decoders and added-token flags that the three reference
// tokenizers do not use, against `tokenizers` (component_goldens.json, made by make_component_goldens.py).
// Needs no shared files: the small models are in the fixture.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <simdjson.h>

#include "golden_cases.hpp"
#include "model/tokenizer/incremental_decoder.hpp"

using namespace sabre;

TEST_CASE("uncommon tokenizer.json components match tokenizers", "[tokenizer][components]") {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.load((test::fixture_dir() / "component_goldens.json").string());
  simdjson::dom::array variants = doc["variants"].get_array();
  REQUIRE(variants.size() >= 10);
  for (simdjson::dom::element v : variants) {
    const std::string name{std::string_view(v["name"])};
    const std::string model{std::string_view(doc["models"][std::string_view(v["model"])])};
    std::string json{std::string_view(v["json"])};
    const size_t at = json.find("\"model\":null");
    REQUIRE(at != std::string::npos);
    json.replace(at, std::string_view("\"model\":null").size(), "\"model\":" + model);
    const Tokenizer tok = Tokenizer::from_json(json, name);
    size_t failures = 0;
    size_t cases = 0;
    for (simdjson::dom::element c : v["cases"].get_array()) {
      ++cases;
      const std::string text{std::string_view(c.at(0))};
      std::vector<TokenId> want;
      for (auto id : c.at(1).get_array()) want.push_back(static_cast<TokenId>(int64_t(id)));
      const std::string_view want_keep = c.at(2);
      const std::string_view want_skip = c.at(3);
      const auto got = tok.encode(text, true);
      const auto keep = tok.decode(want, false);
      const auto skip = tok.decode(want, true);
      // Streaming must agree with the full decode for these decoders too.
      IncrementalDecoder stream(tok, false);
      std::string streamed;
      for (TokenId id : want) streamed += stream.push(id);
      streamed += stream.flush();
      if ((got != want || keep != want_keep || skip != want_skip || streamed != keep) && ++failures <= 5) {
        UNSCOPED_INFO(fmt::format("{}: text {:?}\n  ids got {} want {}\n  keep got {:?} want {:?}\n  skip got {:?} "
                                  "want {:?}\n  streamed {:?}",
                                  name, text, got, want, keep, want_keep, skip, want_skip, streamed));
      }
    }
    INFO(name << ": " << failures << " of " << cases << " cases differ");
    CHECK(failures == 0);
  }
}
