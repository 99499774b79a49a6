#include "model/tokenizer/decoder.hpp"

#include "model/tokenizer/byte_level.hpp"
#include "model/tokenizer/pattern.hpp"
#include "model/tokenizer/utf8.hpp"

namespace sabre {

namespace {

using namespace tokenizer_json;

class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    tokens.assign(1, utf8::to_valid_lossy(raw_bytes(tokens)));
  }
  void token_bytes(std::string& token) const override { token = raw_bytes({token}); }

 private:
  static std::string raw_bytes(const std::vector<std::string>& tokens) {
    std::string bytes;
    for (const auto& token : tokens) {
      // A token with any character outside the byte table (e.g. an added token written in plain
      // UTF-8) contributes its own bytes, whole, as in `tokenizers`.
      const size_t mark = bytes.size();
      bool all_mapped = true;
      size_t pos = 0;
      while (pos < token.size()) {
        const int b = byte_level::byte_for_char(utf8::decode_at(token, pos));
        if (b < 0) {
          all_mapped = false;
          break;
        }
        bytes.push_back(static_cast<char>(b));
      }
      if (!all_mapped) {
        bytes.resize(mark);
        bytes.append(token);
      }
    }
    return bytes;
  }
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(SplitPattern pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) t = replace_all(pattern_, t, content_);
  }

 private:
  SplitPattern pattern_;
  std::string content_;
};

// "<0xNN>" -> NN, or -1.
int byte_token_value(const std::string& token) {
  if (token.size() != 6 || !token.starts_with("<0x") || token[5] != '>') return -1;
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  const int hi = hex(token[3]);
  const int lo = hex(token[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;  // bytes of consecutive <0xNN> tokens
    auto flush = [&] {
      if (pending.empty()) return;
      // Valid UTF-8 becomes its text; otherwise every byte becomes one U+FFFD.
      if (utf8::is_valid(pending)) {
        out.push_back(pending);
      } else {
        for (size_t i = 0; i < pending.size(); ++i) out.emplace_back(utf8::kReplacementChar);
      }
      pending.clear();
    };
    for (auto& t : tokens) {
      const int b = byte_token_value(t);
      if (b >= 0) {
        pending.push_back(static_cast<char>(b));
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    tokens = std::move(out);
  }
  void token_bytes(std::string& token) const override {
    const int b = byte_token_value(token);
    if (b >= 0) token.assign(1, static_cast<char>(b));
  }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string joined;
    for (const auto& t : tokens) joined.append(t);
    tokens.assign(1, std::move(joined));
  }
};

// Removes up to `start` leading and `stop` trailing copies of one character from every token.
class StripDecoder final : public Decoder {
 public:
  StripDecoder(std::string content, size_t start, size_t stop) : content_(std::move(content)), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (auto& t : tokens) {
      std::string_view view = t;
      for (size_t i = 0; i < start_ && view.starts_with(content_); ++i) view.remove_prefix(content_.size());
      for (size_t i = 0; i < stop_ && view.ends_with(content_); ++i) view.remove_suffix(content_.size());
      t = std::string(view);
    }
  }
  // Strip follows Fuse in the tokenizers that use it: it trims the text's ends, not a token's.
  void token_bytes(std::string&) const override {}

 private:
  std::string content_;
  size_t start_;
  size_t stop_;
};

class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first) : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    const auto marker = SplitPattern::literal(replacement_);
    for (size_t i = 0; i < tokens.size(); ++i) {
      // In the first token the marker stands for the prefix space the encoder added: it goes away.
      tokens[i] = replace_all(marker, tokens[i], i == 0 && strip_first_ ? "" : " ");
    }
  }
  void token_bytes(std::string& token) const override {
    token = replace_all(SplitPattern::literal(replacement_), token, " ");
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts) : parts_(std::move(parts)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& p : parts_) p->decode_chain(tokens);
  }
  void token_bytes(std::string& token) const override {
    for (const auto& p : parts_) p->token_bytes(token);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(Element e, const Where& where) {
  auto obj = as_object(e, where);
  const auto type = type_of(obj, where);
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Replace") {
    return std::make_unique<ReplaceDecoder>(SplitPattern::from_json(member(obj, "pattern", where), where / "pattern"),
                                            std::string(string_member(obj, "content", where)));
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Strip") {
    const int64_t start = int_member_or(obj, "start", 0, where);
    const int64_t stop = int_member_or(obj, "stop", 0, where);
    if (start < 0 || stop < 0) where.fail("Strip start/stop must not be negative");
    return std::make_unique<StripDecoder>(std::string(string_member(obj, "content", where)), static_cast<size_t>(start),
                                          static_cast<size_t>(stop));
  }
  if (type == "Metaspace") {
    std::string replacement(optional_string_member(obj, "replacement", where).value_or("\xE2\x96\x81"));
    bool strip_first = bool_member_or(obj, "add_prefix_space", true, where);
    if (auto scheme = optional_string_member(obj, "prepend_scheme", where)) strip_first = *scheme != "never";
    return std::make_unique<MetaspaceDecoder>(std::move(replacement), strip_first);
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> parts;
    const auto list_where = where / "decoders";
    size_t i = 0;
    for (auto child : as_array(member(obj, "decoders", where), list_where)) {
      parts.push_back(make_decoder(child, list_where[i++]));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  where.fail(fmt::format("unsupported decoder type \"{}\" (supported: ByteLevel, Replace, ByteFallback, Fuse, "
                         "Strip, Metaspace, Sequence)", type));
}

}  // namespace sabre
