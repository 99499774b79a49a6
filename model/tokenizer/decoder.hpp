#pragma once
// tokenizer.json "decoder": turns token strings back into text (ByteLevel's byte mapping, SentencePiece's
// "▁" -> space, <0xNN> byte fallback...). Each step rewrites the list of token strings, as `tokenizers`'
// decode_chain does; the final text is their concatenation.

#include <memory>
#include <string>
#include <vector>

#include "model/tokenizer/json_util.hpp"

namespace sabre {

class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
  // Rewrites one token string into the bytes it adds in the middle of a text: byte mappings applied
  // without repairing a partial UTF-8 character, and nothing that only applies at the start of the text
  // (Strip, Metaspace's first-token rule). What guided decoding matches tokens by.
  virtual void token_bytes(std::string& token) const {
    std::vector<std::string> one{std::move(token)};
    decode_chain(one);
    token.clear();
    for (const auto& t : one) token.append(t);
  }
};

// ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence; other types throw, naming the type
// and the file.
std::unique_ptr<Decoder> make_decoder(tokenizer_json::Element e, const tokenizer_json::Where& where);

}  // namespace sabre
