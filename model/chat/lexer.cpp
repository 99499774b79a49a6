#include "model/chat/lexer.hpp"

#include <algorithm>
#include <cctype>

#include "model/chat/utf8.hpp"

namespace sabre::chat {

TemplateError located_error(const std::string& origin, SourcePos pos, const std::string& message) {
  return TemplateError(origin + " line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column) +
                           ": " + message,
                       true);
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string normalise_newlines(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  // jinja2's default keep_trailing_newline=False drops exactly one final newline.
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

class Lexer {
 public:
  Lexer(std::string source, const LexerOptions& options, const std::string& origin)
      : src_(std::move(source)), options_(options), origin_(origin) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      if (tag == std::string::npos) {
        emit_data(src_.substr(pos_), pos_);
        pos_ = src_.size();
        break;
      }
      const char kind = src_[tag + 1];  // '{', '%' or '#'
      const char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      std::string text = src_.substr(pos_, tag - pos_);
      if (sign == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if (sign != '+' && options_.lstrip_blocks && kind != '{') {
        const size_t line_begin = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
        if (line_begin > 0 || line_starting) {
          const bool only_space = line_begin < text.size() &&
              std::all_of(text.begin() + line_begin, text.end(), [](char c) { return is_space(c); });
          if (only_space) text.resize(line_begin);
        }
      }
      emit_data(std::move(text), pos_);
      size_t after = tag + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      if (kind == '#') {
        line_starting = lex_comment(tag, after);
      } else if (kind == '%' && is_raw_begin(after)) {
        line_starting = lex_raw(after);
      } else {
        line_starting = lex_tag(tag, after, kind == '{');
      }
    }
    tokens_.push_back(Token{Token::Type::End, "", position(src_.size())});
    return std::move(tokens_);
  }

 private:
  SourcePos position(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    const size_t line = static_cast<size_t>(it - line_starts_.begin());
    return SourcePos{static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
  }

  [[noreturn]] void fail(size_t offset, const std::string& message) const {
    throw located_error(origin_, position(offset), message);
  }

  size_t find_tag(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) return i;
    }
    return std::string::npos;
  }

  void emit_data(std::string text, size_t offset) {
    if (!text.empty()) tokens_.push_back(Token{Token::Type::Data, std::move(text), position(offset)});
  }

  // After a tag's closing delimiter: `-` strips all following whitespace, a plain block or comment end
  // drops one newline when trim_blocks is on, `+` keeps everything. Returns whether the consumed text
  // ended with a newline (jinja2's "line_starting", which lets lstrip_blocks act on the next line).
  bool finish_tag_end(size_t close_end, char sign, bool is_variable) {
    pos_ = close_end;
    bool newline = false;
    if (sign == '-') {
      while (pos_ < src_.size() && is_space(src_[pos_])) {
        newline = src_[pos_] == '\n';
        ++pos_;
      }
      return newline;
    }
    if (sign != '+' && !is_variable && options_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
      ++pos_;
      return true;
    }
    return false;
  }

  bool lex_comment(size_t tag, size_t after) {
    for (size_t i = src_.find("#}", after); i != std::string::npos; i = src_.find("#}", i + 1)) {
      const char sign = i > after && (src_[i - 1] == '-' || src_[i - 1] == '+') ? src_[i - 1] : '\0';
      return finish_tag_end(i + 2, sign, false);
    }
    fail(tag, "missing end of comment tag");
  }

  bool is_raw_begin(size_t after) const {
    size_t i = after;
    while (i < src_.size() && is_space(src_[i])) ++i;
    if (src_.compare(i, 3, "raw") != 0) return false;
    i += 3;
    while (i < src_.size() && is_space(src_[i])) ++i;
    return src_.compare(i, 2, "%}") == 0 || src_.compare(i, 3, "-%}") == 0;
  }

  bool lex_raw(size_t after) {
    size_t i = src_.find("raw", after) + 3;
    while (is_space(src_[i])) ++i;
    if (src_[i] == '-') {
      i += 3;
      while (i < src_.size() && is_space(src_[i])) ++i;
    } else {
      i += 2;  // the raw opening tag never trims its newline, as in jinja2
    }
    // Find "{% endraw %}" (with optional signs) and emit what lies between as data.
    for (size_t end = src_.find("{%", i); end != std::string::npos; end = src_.find("{%", end + 1)) {
      size_t j = end + 2;
      const char open_sign = (src_[j] == '-' || src_[j] == '+') ? src_[j] : '\0';
      if (open_sign) ++j;
      while (j < src_.size() && is_space(src_[j])) ++j;
      if (src_.compare(j, 6, "endraw") != 0) continue;
      j += 6;
      while (j < src_.size() && is_space(src_[j])) ++j;
      char close_sign = '\0';
      if (src_[j] == '-' || src_[j] == '+') close_sign = src_[j++];
      if (src_.compare(j, 2, "%}") != 0) continue;
      std::string text = src_.substr(i, end - i);
      if (open_sign == '-') {
        while (!text.empty() && is_space(text.back())) text.pop_back();
      } else if (open_sign != '+' && options_.lstrip_blocks) {
        const size_t line_begin = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
        if (line_begin > 0 &&
            std::all_of(text.begin() + line_begin, text.end(), [](char c) { return is_space(c); })) {
          text.resize(line_begin);
        }
      }
      emit_data(std::move(text), i);
      return finish_tag_end(j + 2, close_sign, false);
    }
    fail(after, "missing end of raw directive");
  }

  // Tokens of one {{ ... }} or {% ... %}; the closing delimiter counts only outside brackets.
  bool lex_tag(size_t tag, size_t after, bool is_variable) {
    const char close = is_variable ? '}' : '%';
    tokens_.push_back(Token{is_variable ? Token::Type::VariableBegin : Token::Type::BlockBegin, "", position(tag)});
    std::vector<char> brackets;
    size_t i = after;
    while (true) {
      while (i < src_.size() && is_space(src_[i])) ++i;
      if (i >= src_.size()) fail(tag, std::string("unexpected end of template, expected '") + close + "}'");
      if (brackets.empty()) {
        char sign = '\0';
        size_t j = i;
        if ((src_[j] == '-' || src_[j] == '+') && j + 2 < src_.size() + 0 && src_[j + 1] == close &&
            src_[j + 2] == '}') {
          sign = src_[j];
          ++j;
        }
        if (src_[j] == close && j + 1 < src_.size() && src_[j + 1] == '}' && (sign != '+' || !is_variable)) {
          tokens_.push_back(Token{is_variable ? Token::Type::VariableEnd : Token::Type::BlockEnd, "", position(i)});
          return finish_tag_end(j + 2, sign, is_variable);
        }
      }
      i = lex_expression_token(i, brackets);
    }
  }

  size_t lex_expression_token(size_t i, std::vector<char>& brackets) {
    const char c = src_[i];
    const SourcePos at = position(i);
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = i;
      while (j < src_.size() && (std::isalnum(static_cast<unsigned char>(src_[j])) || src_[j] == '_')) ++j;
      tokens_.push_back(Token{Token::Type::Name, src_.substr(i, j - i), at});
      return j;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) return lex_number(i);
    if (c == '\'' || c == '"') return lex_string(i);
    static const char* const operators[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~",
                                            "[", "]", "(", ")", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";"};
    for (const char* op : operators) {
      const size_t n = std::char_traits<char>::length(op);
      if (src_.compare(i, n, op) != 0) continue;
      if (n == 1 && (c == '(' || c == '[' || c == '{')) {
        brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
      } else if (n == 1 && (c == ')' || c == ']' || c == '}')) {
        if (brackets.empty()) fail(i, std::string("unexpected '") + c + "'");
        if (brackets.back() != c) fail(i, std::string("unexpected '") + c + "', expected '" + brackets.back() + "'");
        brackets.pop_back();
      }
      tokens_.push_back(Token{Token::Type::Operator, op, at});
      return i + n;
    }
    fail(i, std::string("unexpected char '") + c + "'");
  }

  size_t lex_number(size_t i) {
    size_t j = i;
    auto digits = [&] {
      while (j < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[j])) || src_[j] == '_')) ++j;
    };
    digits();
    bool is_float = false;
    if (j + 1 < src_.size() && src_[j] == '.' && std::isdigit(static_cast<unsigned char>(src_[j + 1]))) {
      is_float = true;
      ++j;
      digits();
    }
    if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
      size_t k = j + 1;
      if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
      if (k < src_.size() && std::isdigit(static_cast<unsigned char>(src_[k]))) {
        is_float = true;
        j = k;
        digits();
      }
    }
    std::string text;
    for (size_t k = i; k < j; ++k) {
      if (src_[k] != '_') text.push_back(src_[k]);
    }
    tokens_.push_back(Token{is_float ? Token::Type::Float : Token::Type::Integer, text, position(i)});
    return j;
  }

  // A quoted literal; escapes are decoded as Python's "unicode-escape" codec does.
  size_t lex_string(size_t i) {
    const char quote = src_[i];
    std::string value;
    size_t j = i + 1;
    while (true) {
      if (j >= src_.size()) fail(i, "unexpected end of string literal");
      const char c = src_[j];
      if (c == quote) break;
      if (c != '\\') {
        value.push_back(c);
        ++j;
        continue;
      }
      if (j + 1 >= src_.size()) fail(i, "unexpected end of string literal");
      const char e = src_[j + 1];
      j += 2;
      switch (e) {
        case 'n': value.push_back('\n'); break;
        case 't': value.push_back('\t'); break;
        case 'r': value.push_back('\r'); break;
        case '0': value.push_back('\0'); break;
        case 'a': value.push_back('\a'); break;
        case 'b': value.push_back('\b'); break;
        case 'f': value.push_back('\f'); break;
        case 'v': value.push_back('\v'); break;
        case '\\': value.push_back('\\'); break;
        case '\'': value.push_back('\''); break;
        case '"': value.push_back('"'); break;
        case '\n': break;  // a backslash-newline continues the line
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (j + n > src_.size()) fail(j, "truncated \\" + std::string(1, e) + " escape");
          char32_t cp = 0;
          for (size_t k = 0; k < n; ++k) {
            const char h = src_[j + k];
            if (!std::isxdigit(static_cast<unsigned char>(h))) fail(j, "truncated \\" + std::string(1, e) + " escape");
            cp = cp * 16 + static_cast<char32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                                                                                          : (std::tolower(h) - 'a' + 10));
          }
          append_utf8(value, cp);
          j += n;
          break;
        }
        default:  // unknown escapes stay as written, as in Python
          value.push_back('\\');
          value.push_back(e);
      }
    }
    tokens_.push_back(Token{Token::Type::String, std::move(value), position(i)});
    return j + 1;
  }

  std::string src_;
  LexerOptions options_;
  const std::string& origin_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexerOptions& options, const std::string& origin) {
  return Lexer(normalise_newlines(source), options, origin).run();
}

}  // namespace sabre::chat
