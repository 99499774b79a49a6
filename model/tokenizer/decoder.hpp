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
};

// ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence; other types throw, naming the type
// and the file.
std::unique_ptr<Decoder> make_decoder(tokenizer_json::Element e, const tokenizer_json::Where& where);

}  // namespace sabre
