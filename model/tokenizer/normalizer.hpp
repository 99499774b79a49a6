#pragma once
// tokenizer.json "normalizer" components. Only the text matters here (no offset tracking): Sabre needs
// ids, not character alignments.

#include <memory>
#include <string>

#include "model/tokenizer/json_util.hpp"

namespace sabre {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

// Builds the normalizer described by `e` (NFC, NFKC, NFD, NFKD, Lowercase, Prepend, Replace, Strip,
// Sequence). Other types throw, naming the type and the file.
std::unique_ptr<Normalizer> make_normalizer(tokenizer_json::Element e, const tokenizer_json::Where& where);

}  // namespace sabre
