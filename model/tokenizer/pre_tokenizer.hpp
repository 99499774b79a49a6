#pragma once
// tokenizer.json "pre_tokenizer" components: they cut normalized text into the words the BPE model
// encodes one by one (and may rewrite them, e.g. ByteLevel's byte -> visible character mapping).

#include <memory>
#include <string>
#include <vector>

#include "model/tokenizer/json_util.hpp"
#include "model/tokenizer/pcre2_regex.hpp"

namespace sabre {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Replaces `pieces` by their sub-pieces, in order. `starts_text` says whether pieces[0] begins at
  // the start of the whole input (Metaspace's prepend_scheme "first" needs it).
  virtual void pre_tokenize(std::vector<std::string>& pieces, bool starts_text) const = 0;

  // Non-null when this pre-tokenizer is exactly "split on this regex, keeping matches and gaps as
  // pieces, then map each piece's bytes with ByteLevel" (the Qwen / Llama 3 / GPT-2 layout). The
  // encoder then skips building the pieces and looks words up by their raw bytes.
  virtual const Pcre2Regex* byte_level_split_regex() const { return nullptr; }
};

// How a Split keeps the delimiters it finds (tokenizers' SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct Segment {
  size_t begin;
  size_t end;
  bool is_match;
};

// Applies `behavior` to segments that cover a text (matches and the gaps between them, in order) and
// returns the resulting [begin, end) pieces, empty ones dropped.
std::vector<std::pair<size_t, size_t>> apply_split_behavior(const std::vector<Segment>& segments,
                                                            SplitBehavior behavior);

// Builds the pre-tokenizer described by `e` (Split, ByteLevel, Metaspace, Digits, Whitespace,
// WhitespaceSplit, Sequence). Other types throw, naming the type and the file.
std::unique_ptr<PreTokenizer> make_pre_tokenizer(tokenizer_json::Element e, const tokenizer_json::Where& where);

}  // namespace sabre
