// Sabre's tokenizer against Hugging Face `tokenizers` on the committed corpus: identical ids and text.
#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <thread>

#include "golden_cases.hpp"
#include "model/tokenizer/incremental_decoder.hpp"
#include "model/tokenizer/utf8.hpp"

using namespace sabre;
using namespace sabre::test;

namespace {

// Escapes control and non-ASCII bytes so that a failing case is readable in the log.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

void check_parity(const std::string& name) {
  const auto path = shared_tokenizer(name);
  if (!std::filesystem::exists(path)) {
    WARN("SKIPPED: " << path << " is missing");
    return;
  }
  const Tokenizer tok = Tokenizer::from_file(path);
  const Goldens g = load_goldens(name);
  REQUIRE(g.cases.size() >= 500);
  size_t failures = 0;
  for (const auto& c : g.cases) {
    const auto plain = tok.encode(c.text, false);
    const auto special = tok.encode(c.text, true);
    const auto keep = tok.decode(special, false);
    const auto skip = tok.decode(special, true);
    const auto decoded_plain = tok.decode(plain, false);
    const bool ok = plain == c.ids_plain && special == c.ids_special && keep == c.decoded_keep_special &&
                    skip == c.decoded_skip_special && decoded_plain == c.decoded_plain;
    if (!ok && ++failures <= 10) {
      UNSCOPED_INFO(fmt::format("text \"{}\"\n  ids   got {}\n  ids  want {}\n  ids+  got {}\n  ids+ want {}\n"
                                "  keep got \"{}\" want \"{}\"\n  skip got \"{}\" want \"{}\"\n  plain got \"{}\" want \"{}\"",
                                printable(c.text), plain, c.ids_plain, special, c.ids_special, printable(keep),
                                printable(c.decoded_keep_special), printable(skip), printable(c.decoded_skip_special),
                                printable(decoded_plain), printable(c.decoded_plain)));
    }
  }
  for (const auto& d : g.decode_only) {
    const auto keep = tok.decode(d.ids, false);
    const auto skip = tok.decode(d.ids, true);
    if ((keep != d.keep_special || skip != d.skip_special) && ++failures <= 10) {
      UNSCOPED_INFO(fmt::format("decode {}\n  keep got \"{}\" want \"{}\"\n  skip got \"{}\" want \"{}\"", d.ids,
                                printable(keep), printable(d.keep_special), printable(skip), printable(d.skip_special)));
    }
  }
  CHECK(failures == 0);
}

// Streaming the ids one by one must add up to the full decode, and never hand out broken UTF-8.
void check_incremental(const std::string& name) {
  const auto path = shared_tokenizer(name);
  if (!std::filesystem::exists(path)) {
    WARN("SKIPPED: " << path << " is missing");
    return;
  }
  const Tokenizer tok = Tokenizer::from_file(path);
  const Goldens g = load_goldens(name);
  std::vector<std::vector<TokenId>> sequences;
  for (const auto& c : g.cases) sequences.push_back(c.ids_special);
  for (const auto& d : g.decode_only) sequences.push_back(d.ids);
  size_t failures = 0;
  for (const auto& ids : sequences) {
    for (bool skip : {false, true}) {
      IncrementalDecoder stream(tok, skip);
      std::string streamed;
      bool pieces_valid = true;
      for (TokenId id : ids) {
        const std::string piece = stream.push(id);
        pieces_valid = pieces_valid && utf8::is_valid(piece);
        streamed += piece;
      }
      streamed += stream.flush();
      const std::string full = tok.decode(ids, skip);
      if ((streamed != full || !pieces_valid) && ++failures <= 10) {
        UNSCOPED_INFO(fmt::format("ids {} skip={}\n  streamed \"{}\"\n  decoded  \"{}\"\n  pieces valid: {}", ids, skip,
                                  printable(streamed), printable(full), pieces_valid));
      }
    }
  }
  CHECK(failures == 0);
}

}  // namespace

TEST_CASE("qwen3 tokenizer matches HF tokenizers on the corpus", "[tokenizer][parity]") { check_parity("qwen3"); }
TEST_CASE("llama3_1 tokenizer matches HF tokenizers on the corpus", "[tokenizer][parity]") { check_parity("llama3_1"); }
TEST_CASE("llama2 tokenizer matches HF tokenizers on the corpus", "[tokenizer][parity]") { check_parity("llama2"); }

TEST_CASE("qwen3 streaming decode adds up to the full decode", "[tokenizer][incremental]") { check_incremental("qwen3"); }
TEST_CASE("llama3_1 streaming decode adds up to the full decode", "[tokenizer][incremental]") { check_incremental("llama3_1"); }
TEST_CASE("llama2 streaming decode adds up to the full decode", "[tokenizer][incremental]") { check_incremental("llama2"); }

TEST_CASE("encode from several threads at once gives the same ids", "[tokenizer][threads]") {
  const auto path = shared_tokenizer("llama3_1");
  if (!std::filesystem::exists(path)) {
    WARN("SKIPPED: " << path << " is missing");
    return;
  }
  const Tokenizer tok = Tokenizer::from_file(path);
  const Goldens g = load_goldens("llama3_1");
  // The threads share the word cache, filling it while the others read it.
  std::vector<size_t> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (size_t round = 0; round < 3; ++round) {
        for (size_t i = t; i < g.cases.size() + t; ++i) {
          const auto& c = g.cases[i % g.cases.size()];
          if (tok.encode(c.text, false) != c.ids_plain) ++mismatches[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (size_t m : mismatches) CHECK(m == 0);
}
