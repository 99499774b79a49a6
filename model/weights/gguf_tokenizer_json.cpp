#include "model/weights/gguf_tokenizer_json.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "model/weights/gguf_json_text.hpp"
#include "config/text/utf8_encode.hpp"

namespace sabre {
namespace {

// llama.cpp's token types (tokenizer.ggml.token_type).
constexpr int64_t kTokenUnknown = 2;
constexpr int64_t kTokenControl = 3;
constexpr int64_t kTokenUserDefined = 4;

// Split regexes in the spelling of Hugging Face tokenizer.json files.
constexpr std::string_view kGpt2Split =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kDigitSplit = R"(\p{N})";

struct PreTokenizerRecipe {
  std::vector<std::string_view> splits;  // applied in order, each isolating its matches
  bool ignore_merges = false;            // a pre-token already in the vocabulary is kept whole
};

// tokenizer.ggml.pre -> the regex sequence llama.cpp applies (llama-vocab.cpp's pre-type table).
std::optional<PreTokenizerRecipe> recipe_for(std::string_view pre) {
  if (pre == "default" || pre == "gpt-2" || pre == "gpt2" || pre == "olmo" || pre == "mpt" ||
      pre == "jais" || pre == "trillion") {
    return PreTokenizerRecipe{{kGpt2Split}, false};
  }
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "smaug-bpe" ||
      pre == "falcon3" || pre == "dbrx" || pre == "pixtral") {
    return PreTokenizerRecipe{{kLlama3Split}, true};
  }
  if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "megrez") {
    return PreTokenizerRecipe{{kQwen2Split}, false};
  }
  if (pre == "smollm" || pre == "codeshell" || pre == "exaone" || pre == "minerva") {
    return PreTokenizerRecipe{{kDigitSplit, kGpt2Split}, false};
  }
  return std::nullopt;
}

// GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the others are moved
// to U+0100 and up. A byte-level vocabulary spells every token with these characters.
std::array<char32_t, 256> byte_level_alphabet() {
  std::array<char32_t, 256> table{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return table;
}

// Code points of a UTF-8 string; nullopt when it is not valid UTF-8.
std::optional<std::vector<char32_t>> decode_utf8(std::string_view s) {
  std::vector<char32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra;
    char32_t cp;
    if (c < 0x80) { cp = c; extra = 0; }
    else if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; extra = 1; }
    else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; extra = 2; }
    else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; extra = 3; }
    else return std::nullopt;
    if (extra > 0 && i + static_cast<size_t>(extra) >= s.size()) return std::nullopt;  // cut short
    for (int k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3F);
    }
    out.push_back(cp);
    i += 1 + extra;
  }
  return out;
}

// A byte-level vocabulary entry as Hugging Face spells it. Tokens already written in the byte alphabet
// stay; any other (a mislabelled raw-text token) is re-spelled byte by byte, as transformers does.
std::string byte_level_spelling(const std::string& token, const std::array<char32_t, 256>& alphabet,
                                bool& was_in_alphabet) {
  static const auto in_alphabet = [] {
    std::vector<bool> member(512, false);
    for (char32_t cp : byte_level_alphabet()) member[cp] = true;
    return member;
  }();
  const auto cps = decode_utf8(token);
  was_in_alphabet = cps.has_value() && std::all_of(cps->begin(), cps->end(), [](char32_t cp) {
                      return cp < in_alphabet.size() && in_alphabet[cp];
                    });
  if (was_in_alphabet) return token;
  std::string out;
  for (unsigned char b : token) append_utf8(out, alphabet[b]);
  return out;
}

struct Vocabulary {
  std::vector<std::string> tokens;  // as the file spells them
  std::vector<int64_t> types;       // empty when the file has no token_type
};

std::string token_at(const GgufTokenizerMetadata& meta, std::string_view key, int64_t id) {
  if (id < 0 || static_cast<size_t>(id) >= meta.tokens.size()) {
    throw std::runtime_error(fmt::format("GGUF file '{}': {} = {} is outside the vocabulary of {} tokens",
                                         meta.origin, key, id, meta.tokens.size()));
  }
  return meta.tokens[static_cast<size_t>(id)];
}

std::vector<std::pair<std::string, std::string>> split_merges(const GgufTokenizerMetadata& meta) {
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(meta.merges->size());
  for (const auto& merge : *meta.merges) {
    const auto space = merge.find(' ');
    if (space == std::string::npos || merge.find(' ', space + 1) != std::string::npos) {
      throw std::runtime_error(fmt::format(
          "GGUF file '{}': tokenizer.ggml.merges entry '{}' is not two tokens separated by one space",
          meta.origin, merge));
    }
    merges.emplace_back(merge.substr(0, space), merge.substr(space + 1));
  }
  return merges;
}

void append_added_tokens(std::string& out, const Vocabulary& vocab, bool byte_level,
                         const std::vector<bool>& spelled_in_alphabet) {
  out += "\"added_tokens\":[";
  bool first = true;
  for (size_t id = 0; id < vocab.types.size() && id < vocab.tokens.size(); ++id) {
    const int64_t type = vocab.types[id];
    bool special;
    if (type == kTokenControl || (!byte_level && type == kTokenUnknown)) {
      // A control token outside the byte alphabet is a llama.cpp mislabel in a byte-level vocabulary;
      // transformers skips those, and so do we.
      if (byte_level && !spelled_in_alphabet[id]) continue;
      special = true;
    } else if (type == kTokenUserDefined) {
      special = false;
    } else {
      continue;
    }
    if (!first) out.push_back(',');
    first = false;
    out += fmt::format("{{\"id\":{},\"content\":", id);
    append_json_string(out, vocab.tokens[id]);
    out += fmt::format(
        ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":{}}}",
        special ? "true" : "false");
  }
  out += "],";
}

void append_vocab(std::string& out, const std::vector<std::string>& spellings) {
  out += "\"vocab\":{";
  for (size_t id = 0; id < spellings.size(); ++id) {
    if (id != 0) out.push_back(',');
    append_json_string(out, spellings[id]);
    out += fmt::format(":{}", id);
  }
  out += "}";
}

void append_merges(std::string& out, const std::vector<std::pair<std::string, std::string>>& merges) {
  out += "\"merges\":[";
  for (size_t i = 0; i < merges.size(); ++i) {
    if (i != 0) out.push_back(',');
    out.push_back('[');
    append_json_string(out, merges[i].first);
    out.push_back(',');
    append_json_string(out, merges[i].second);
    out.push_back(']');
  }
  out += "]";
}

// The post-processor: BOS/EOS around a single sequence when the file asks for them.
void append_template_processing(std::string& out, const std::optional<std::string>& bos,
                                std::optional<int64_t> bos_id, const std::optional<std::string>& eos,
                                std::optional<int64_t> eos_id) {
  auto special = [&](const std::string& token, int type_id) {
    std::string s = "{\"SpecialToken\":{\"id\":";
    append_json_string(s, token);
    s += fmt::format(",\"type_id\":{}}}}}", type_id);
    return s;
  };
  std::string single, pair;
  if (bos) single += special(*bos, 0) + ",";
  single += R"({"Sequence":{"id":"A","type_id":0}})";
  if (eos) single += "," + special(*eos, 0);
  pair = single;
  if (bos) pair += "," + special(*bos, 1);
  pair += R"(,{"Sequence":{"id":"B","type_id":1}})";
  if (eos) pair += "," + special(*eos, 1);
  out += "{\"type\":\"TemplateProcessing\",\"single\":[" + single + "],\"pair\":[" + pair +
         "],\"special_tokens\":{";
  bool first = true;
  auto entry = [&](const std::string& token, int64_t id) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, token);
    out += ":{\"id\":";
    append_json_string(out, token);
    out += fmt::format(",\"ids\":[{}],\"tokens\":[", id);
    append_json_string(out, token);
    out += "]}";
  };
  if (bos) entry(*bos, *bos_id);
  if (eos && eos != bos) entry(*eos, *eos_id);
  out += "}}";
}

struct SpecialTokens {
  std::optional<int64_t> bos_id, eos_id;
  std::optional<std::string> bos, eos;
  bool add_bos = false;
  bool add_eos = false;
};

SpecialTokens special_tokens(const GgufTokenizerMetadata& meta, bool add_bos_default) {
  SpecialTokens s;
  s.bos_id = meta.bos_id;
  s.eos_id = meta.eos_id;
  if (s.bos_id) s.bos = token_at(meta, "tokenizer.ggml.bos_token_id", *s.bos_id);
  if (s.eos_id) s.eos = token_at(meta, "tokenizer.ggml.eos_token_id", *s.eos_id);
  s.add_bos = meta.add_bos.value_or(add_bos_default);
  s.add_eos = meta.add_eos.value_or(false);
  if (s.add_bos && !s.bos) {
    throw std::runtime_error(fmt::format(
        "GGUF file '{}' asks for a BOS token (tokenizer.ggml.add_bos_token) but has no "
        "tokenizer.ggml.bos_token_id",
        meta.origin));
  }
  if (s.add_eos && !s.eos) {
    throw std::runtime_error(fmt::format(
        "GGUF file '{}' asks for an EOS token (tokenizer.ggml.add_eos_token) but has no "
        "tokenizer.ggml.eos_token_id",
        meta.origin));
  }
  return s;
}

bool is_sentencepiece(const GgufTokenizerMetadata& meta) { return meta.model == "llama"; }

std::optional<std::string> maybe(bool flag, const std::optional<std::string>& v) {
  return flag ? v : std::nullopt;
}

std::string byte_level_tokenizer_json(const GgufTokenizerMetadata& meta, const Vocabulary& vocab) {
  const std::string pre = meta.pre.value_or("default");
  const auto recipe = recipe_for(pre);
  if (!recipe) {
    throw std::runtime_error(fmt::format(
        "GGUF file '{}': tokenizer.ggml.pre is '{}', a pre-tokenizer Sabre does not know (known: default, "
        "gpt-2, llama3, llama-bpe, smaug-bpe, falcon3, dbrx, pixtral, qwen2, deepseek-r1-qwen, megrez, "
        "smollm, codeshell, exaone, minerva, olmo, mpt, jais, trillion)",
        meta.origin, pre));
  }
  const auto alphabet = byte_level_alphabet();
  std::vector<std::string> spellings;
  std::vector<bool> in_alphabet;
  spellings.reserve(vocab.tokens.size());
  for (const auto& token : vocab.tokens) {
    bool ok = false;
    spellings.push_back(byte_level_spelling(token, alphabet, ok));
    in_alphabet.push_back(ok);
  }
  if (!meta.merges) {
    throw std::runtime_error(fmt::format(
        "GGUF file '{}' has a gpt2 (byte-level BPE) tokenizer without tokenizer.ggml.merges", meta.origin));
  }
  const auto merges = split_merges(meta);
  const auto special = special_tokens(meta, false);

  std::string out = R"({"version":"1.0","truncation":null,"padding":null,)";
  append_added_tokens(out, vocab, true, in_alphabet);
  out += R"("normalizer":null,"pre_tokenizer":{"type":"Sequence","pretokenizers":[)";
  for (const auto split : recipe->splits) {
    out += R"({"type":"Split","pattern":{"Regex":)";
    append_json_string(out, split);
    out += R"(},"behavior":"Isolated","invert":false},)";
  }
  out += R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]},)";
  const std::string byte_level_post =
      R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false})";
  out += "\"post_processor\":";
  if (special.add_bos || special.add_eos) {
    out += R"({"type":"Sequence","processors":[)" + byte_level_post + ",";
    append_template_processing(out, maybe(special.add_bos, special.bos), special.bos_id,
                               maybe(special.add_eos, special.eos), special.eos_id);
    out += "]}";
  } else {
    out += byte_level_post;
  }
  out += ",\"decoder\":" + byte_level_post + ",";
  out += R"("model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,)"
         R"("end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"ignore_merges":)";
  out += recipe->ignore_merges ? "true," : "false,";
  append_vocab(out, spellings);
  out.push_back(',');
  append_merges(out, merges);
  out += "}}";
  return out;
}

// transformers' generate_merges for a SentencePiece vocabulary: every split of a token into two
// vocabulary tokens is a merge ranked by the whole token's score (higher first), ties broken by the
// longer left part, then the longer right part, then vocabulary order. Lengths count code points.
std::vector<std::pair<std::string, std::string>> merges_from_scores(const std::vector<std::string>& tokens,
                                                                   const std::vector<double>& scores) {
  std::unordered_map<std::string_view, size_t> index;
  index.reserve(tokens.size() * 2);
  for (size_t id = 0; id < tokens.size(); ++id) index.try_emplace(tokens[id], id);
  // Python's dict keeps the last id of a duplicated token and iterates in first-insertion order.
  std::unordered_map<std::string_view, size_t> last_id;
  for (size_t id = 0; id < tokens.size(); ++id) last_id[tokens[id]] = id;

  struct Candidate {
    double score;
    size_t left_len, right_len;
    size_t left_id, right_id;
    std::string_view left, right;
  };
  std::vector<Candidate> all;
  std::unordered_map<std::string_view, bool> seen;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const std::string_view piece = tokens[id];
    if (!seen.try_emplace(piece, true).second) continue;
    const double score = scores[last_id[piece]];
    const auto cps = decode_utf8(piece);
    if (!cps) continue;
    std::vector<Candidate> local;
    size_t byte_pos = 0;
    for (size_t k = 0; k + 1 < cps->size(); ++k) {
      const char32_t cp = (*cps)[k];
      byte_pos += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      const auto left = piece.substr(0, byte_pos);
      const auto right = piece.substr(byte_pos);
      auto l = last_id.find(left);
      auto r = last_id.find(right);
      if (l != last_id.end() && r != last_id.end()) {
        local.push_back({score, k + 1, cps->size() - k - 1, l->second, r->second, left, right});
      }
    }
    std::stable_sort(local.begin(), local.end(), [](const Candidate& a, const Candidate& b) {
      return std::pair(a.left_id, a.right_id) < std::pair(b.left_id, b.right_id);
    });
    all.insert(all.end(), local.begin(), local.end());
  }
  std::stable_sort(all.begin(), all.end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.left_len != b.left_len) return a.left_len > b.left_len;
    return a.right_len > b.right_len;
  });
  std::vector<std::pair<std::string, std::string>> merges;
  merges.reserve(all.size());
  for (const auto& c : all) merges.emplace_back(std::string(c.left), std::string(c.right));
  return merges;
}

std::string sentencepiece_tokenizer_json(const GgufTokenizerMetadata& meta, const Vocabulary& vocab) {
  std::vector<std::pair<std::string, std::string>> merges;
  if (meta.merges) {
    merges = split_merges(meta);
  } else {
    if (!meta.scores || meta.scores->size() != vocab.tokens.size()) {
      throw std::runtime_error(fmt::format(
          "GGUF file '{}': a SentencePiece tokenizer without merges needs tokenizer.ggml.scores with one "
          "score per token ({} tokens, {} scores)",
          meta.origin, vocab.tokens.size(), meta.scores ? meta.scores->size() : 0));
    }
    merges = merges_from_scores(vocab.tokens, *meta.scores);
  }
  const auto special = special_tokens(meta, true);
  const bool add_space_prefix = meta.add_space_prefix.value_or(true);
  std::optional<std::string> unk;
  if (meta.unk_id) unk = token_at(meta, "tokenizer.ggml.unknown_token_id", *meta.unk_id);

  std::string out = R"({"version":"1.0","truncation":null,"padding":null,)";
  append_added_tokens(out, vocab, false, {});
  out += "\"normalizer\":";
  out += add_space_prefix
             ? R"({"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]})"
             : R"({"type":"Replace","pattern":{"String":" "},"content":"▁"})";
  out += ",\"pre_tokenizer\":null,\"post_processor\":";
  if (special.add_bos || special.add_eos) {
    append_template_processing(out, maybe(special.add_bos, special.bos), special.bos_id,
                               maybe(special.add_eos, special.eos), special.eos_id);
  } else {
    out += "null";
  }
  out += R"(,"decoder":{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},)"
         R"({"type":"ByteFallback"},{"type":"Fuse"})";
  if (add_space_prefix) out += R"(,{"type":"Strip","content":" ","start":1,"stop":0})";
  out += "]},";
  out += R"("model":{"type":"BPE","dropout":null,"unk_token":)";
  if (unk) {
    append_json_string(out, *unk);
  } else {
    out += "null";
  }
  out += R"(,"continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":true,)"
         R"("byte_fallback":true,"ignore_merges":false,)";
  append_vocab(out, vocab.tokens);
  out.push_back(',');
  append_merges(out, merges);
  out += "}}";
  return out;
}

}  // namespace

GgufTokenizerMetadata read_gguf_tokenizer_metadata(const GgufFile& file) {
  GgufTokenizerMetadata meta;
  meta.origin = file.path().string();
  auto opt_string = [&](const char* key) {
    return file.contains(key) ? std::optional<std::string>(file.get_string(key)) : std::nullopt;
  };
  auto opt_int = [&](const char* key) {
    return file.contains(key) ? std::optional<int64_t>(file.get_int(key)) : std::nullopt;
  };
  auto opt_bool = [&](const char* key) {
    return file.contains(key) ? std::optional<bool>(file.get_bool(key)) : std::nullopt;
  };
  meta.model = opt_string("tokenizer.ggml.model");
  meta.pre = opt_string("tokenizer.ggml.pre");
  if (file.contains("tokenizer.ggml.tokens")) meta.tokens = file.get_string_array("tokenizer.ggml.tokens");
  if (file.contains("tokenizer.ggml.token_type")) {
    meta.token_types = file.get_int_array("tokenizer.ggml.token_type");
  }
  if (file.contains("tokenizer.ggml.merges")) meta.merges = file.get_string_array("tokenizer.ggml.merges");
  if (file.contains("tokenizer.ggml.scores")) meta.scores = file.get_float_array("tokenizer.ggml.scores");
  meta.bos_id = opt_int("tokenizer.ggml.bos_token_id");
  meta.eos_id = opt_int("tokenizer.ggml.eos_token_id");
  meta.unk_id = opt_int("tokenizer.ggml.unknown_token_id");
  meta.pad_id = opt_int("tokenizer.ggml.padding_token_id");
  meta.add_bos = opt_bool("tokenizer.ggml.add_bos_token");
  meta.add_eos = opt_bool("tokenizer.ggml.add_eos_token");
  meta.add_space_prefix = opt_bool("tokenizer.ggml.add_space_prefix");
  meta.chat_template = opt_string("tokenizer.chat_template");
  return meta;
}

std::string tokenizer_json_from_gguf(const GgufTokenizerMetadata& meta) {
  if (!meta.model) return "";
  Vocabulary vocab;
  vocab.tokens = meta.tokens;
  vocab.types = meta.token_types;
  if (vocab.tokens.empty()) {
    throw std::runtime_error(fmt::format("GGUF file '{}' names tokenizer model '{}' but has no tokenizer.ggml.tokens",
                                         meta.origin, *meta.model));
  }
  if (!vocab.types.empty() && vocab.types.size() != vocab.tokens.size()) {
    throw std::runtime_error(fmt::format(
        "GGUF file '{}': tokenizer.ggml.token_type has {} entries but tokenizer.ggml.tokens has {}", meta.origin,
        vocab.types.size(), vocab.tokens.size()));
  }
  if (*meta.model == "gpt2") return byte_level_tokenizer_json(meta, vocab);
  if (*meta.model == "llama") return sentencepiece_tokenizer_json(meta, vocab);
  throw std::runtime_error(fmt::format(
      "GGUF file '{}': tokenizer.ggml.model is '{}'; Sabre supports 'gpt2' (byte-level BPE) and 'llama' "
      "(SentencePiece BPE)",
      meta.origin, *meta.model));
}

std::string tokenizer_config_json_from_gguf(const GgufTokenizerMetadata& meta) {
  std::string out = "{";
  bool first = true;
  auto key = [&](std::string_view name) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, name);
    out.push_back(':');
  };
  if (!meta.tokens.empty()) {
    const auto special = special_tokens(meta, is_sentencepiece(meta));
    const std::array<std::tuple<std::string_view, std::string_view, std::optional<int64_t>>, 4> names = {{
        {"bos_token", "tokenizer.ggml.bos_token_id", meta.bos_id},
        {"eos_token", "tokenizer.ggml.eos_token_id", meta.eos_id},
        {"unk_token", "tokenizer.ggml.unknown_token_id", meta.unk_id},
        {"pad_token", "tokenizer.ggml.padding_token_id", meta.pad_id},
    }};
    for (const auto& [name, gguf_key, id] : names) {
      key(name);
      if (id) {
        append_json_string(out, token_at(meta, gguf_key, *id));
      } else {
        out += "null";
      }
    }
    key("add_bos_token");
    out += special.add_bos ? "true" : "false";
    key("add_eos_token");
    out += special.add_eos ? "true" : "false";
  }
  if (meta.chat_template) {
    key("chat_template");
    append_json_string(out, *meta.chat_template);
  }
  out += "}";
  return out;
}

}  // namespace sabre
