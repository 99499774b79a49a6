// The tokenizer on arbitrary text: encode then decode must give the text back (after the tokenizer's
// NFC normalisation, when it has one) for valid UTF-8, and decoding any ids must give valid UTF-8.
// The tokenizer is Qwen3's (byte-level BPE with NFC) where the shared reference tokenizers are at hand
// (fuzz_support.hpp says which it falls back to); NFC is checked only when its tokenizer.json asks for it.
#include <simdjson.h>
#include <utf8proc.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model/tokenizer/utf8.hpp"

namespace {

struct Subject {
  sabre::Tokenizer tokenizer;
  bool nfc = false;
  bool round_trips = true;  // false when some byte has no token (SmolLM2 drops control bytes, as HF does)
};

// Whether every ASCII byte survives encode + decode: a vocabulary without some bytes cannot round-trip
// arbitrary text, in Hugging Face's tokenizers as here, so only validity is checked then.
bool covers_ascii(const sabre::Tokenizer& tokenizer) {
  for (int byte = 1; byte < 128; ++byte) {
    const std::string text(1, static_cast<char>(byte));
    if (tokenizer.decode(tokenizer.encode(text, false), false) != text) return false;
  }
  return true;
}

const Subject& subject() {
  static const std::unique_ptr<Subject> loaded = [] {
    const std::string text = sabre::fuzz::fuzz_tokenizer_json();
    simdjson::dom::parser parser;
    simdjson::dom::element root = parser.parse(text);
    std::string_view normalizer;
    const bool nfc = !root["normalizer"]["type"].get(normalizer) && normalizer == "NFC";
    auto subject = std::make_unique<Subject>(Subject{sabre::Tokenizer::from_json(text, "fuzz tokenizer"), nfc});
    subject->round_trips = covers_ascii(subject->tokenizer);
    return subject;
  }();
  return *loaded;
}

std::string nfc(const std::string& text) {
  utf8proc_uint8_t* out = utf8proc_NFC(reinterpret_cast<const utf8proc_uint8_t*>(text.c_str()));
  if (out == nullptr) return text;
  std::string result(reinterpret_cast<const char*>(out));
  std::free(out);
  return result;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Subject& s = subject();
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::vector<sabre::TokenId> ids = s.tokenizer.encode(text, /*add_special_tokens=*/false);
  const std::string decoded = s.tokenizer.decode(ids, /*skip_special_tokens=*/false);
  if (!sabre::utf8::is_valid(decoded)) __builtin_trap();
  // NUL bytes end the C string utf8proc normalises; such texts are checked for validity only.
  if (s.round_trips && sabre::utf8::is_valid(text) && text.find('\0') == std::string::npos) {
    const std::string expected = s.nfc ? nfc(text) : text;
    if (decoded != expected) __builtin_trap();
  }
  // Any ids at all: decoding never fails and never yields broken UTF-8.
  std::vector<sabre::TokenId> arbitrary;
  const auto vocab = static_cast<uint32_t>(s.tokenizer.vocab_size());
  for (size_t i = 0; i + 2 < size && arbitrary.size() < 64; i += 3) {
    arbitrary.push_back(static_cast<sabre::TokenId>((data[i] | data[i + 1] << 8 | data[i + 2] << 16) % vocab));
  }
  for (bool skip : {false, true}) {
    if (!sabre::utf8::is_valid(s.tokenizer.decode(arbitrary, skip))) __builtin_trap();
  }
  return 0;
}
