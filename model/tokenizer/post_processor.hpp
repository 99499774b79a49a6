#pragma once
// tokenizer.json "post_processor": adds special tokens (BOS, EOS) around an encoded sequence when
// encode is called with add_special_tokens.

#include <memory>
#include <vector>

#include "model/tokenizer/json_util.hpp"
#include "model/tokenizer/tokenizer.hpp"

namespace sabre {

class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  // Rewrites the ids of a single sequence ("A").
  virtual void process(std::vector<TokenId>& ids) const = 0;
};

// TemplateProcessing, ByteLevel (ids unchanged: it only moves offsets), RobertaProcessing,
// BertProcessing and Sequence; other types throw, naming the type and the file.
std::unique_ptr<PostProcessor> make_post_processor(tokenizer_json::Element e, const tokenizer_json::Where& where);

}  // namespace sabre
