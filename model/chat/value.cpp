#include "model/chat/value.hpp"

#include <simdjson.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <stdexcept>

#include "model/chat/error.hpp"

namespace sabre::chat {

const Value* Object::find(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

Value* Object::find(std::string_view key) {
  for (auto& [k, v] : entries_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Object::set(std::string key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
    return;
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

bool Object::erase(std::string_view key) {
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    if (it->first == key) {
      entries_.erase(it);
      return true;
    }
  }
  return false;
}

Value Value::undefined(std::string hint) {
  Value v;
  v.string_ = std::make_shared<std::string>(std::move(hint));
  return v;
}

Value Value::namespace_(Object attributes) {
  Value v(std::move(attributes));
  v.kind_ = Kind::Namespace;
  return v;
}

Value Value::callable(std::string name, std::function<Value(CallArgs&)> fn) {
  Value v;
  v.kind_ = Kind::Callable;
  v.callable_ = std::make_shared<Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

const std::string& Value::undefined_hint() const {
  static const std::string generic = "value is undefined";
  return string_ && !string_->empty() ? *string_ : generic;
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool:
    case Kind::Int: return int_ != 0;
    case Kind::Float: return float_ != 0.0;
    case Kind::String: return !string_->empty();
    case Kind::Array: return is_lazy() || !array_->empty();
    case Kind::Object: return !object_->empty();
    case Kind::Namespace:
    case Kind::Callable: return true;
  }
  return false;
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return markup_ ? "Markup" : "str";
    case Kind::Array:
      switch (sequence_) {
        case Sequence::List: return "list";
        case Sequence::Tuple: return "tuple";
        case Sequence::Generator: return "generator";
        case Sequence::Iterator: return "list_reverseiterator";
        case Sequence::DictItems: return "dict_items";
        case Sequence::DictKeys: return "dict_keys";
        case Sequence::DictValues: return "dict_values";
      }
      return "list";
    case Kind::Object: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Callable: return "function";
  }
  return "object";
}

bool Value::equals(const Value& other) const {
  if (is_number() && other.is_number()) {
    if (kind_ == Kind::Float || other.kind_ == Kind::Float) return as_float() == other.as_float();
    return int_ == other.int_;
  }
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return *string_ == *other.string_;
    case Kind::Array: {
      // Python: a list never equals a tuple; generators and views compare by identity here.
      if (sequence_ != other.sequence_ || array_->size() != other.array_->size()) return false;
      if (!is_sequence()) return array_ == other.array_;
      for (size_t i = 0; i < array_->size(); ++i) {
        if (!(*array_)[i].equals((*other.array_)[i])) return false;
      }
      return true;
    }
    case Kind::Object: {
      if (object_->size() != other.object_->size()) return false;
      for (const auto& [k, v] : object_->entries()) {
        const Value* o = other.object_->find(k);
        if (!o || !v.equals(*o)) return false;
      }
      return true;
    }
    case Kind::Namespace: return object_ == other.object_;
    case Kind::Callable: return callable_ == other.callable_;
    default: return false;
  }
}

bool Value::same_as(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::Array: return array_ == other.array_;
    case Kind::Object:
    case Kind::Namespace: return object_ == other.object_;
    case Kind::Callable: return callable_ == other.callable_;
    default: return equals(other);
  }
}

namespace {

Value from_dom(simdjson::dom::element element) {
  using simdjson::dom::element_type;
  switch (element.type()) {
    case element_type::NULL_VALUE: return Value(nullptr);
    case element_type::BOOL: return Value(bool(element.get_bool()));
    case element_type::INT64: return Value(int64_t(element.get_int64()));
    case element_type::UINT64: return Value(double(uint64_t(element.get_uint64())));
    case element_type::DOUBLE: return Value(double(element.get_double()));
    case element_type::STRING: return Value(std::string_view(element.get_string()));
    case element_type::ARRAY: {
      Array items;
      for (simdjson::dom::element item : element.get_array()) items.push_back(from_dom(item));
      return Value(std::move(items));
    }
    case element_type::OBJECT: {
      Object object;
      for (auto field : element.get_object()) object.set(std::string(field.key), from_dom(field.value));
      return Value(std::move(object));
    }
  }
  return Value(nullptr);
}

// simdjson rejects integers beyond 64 bits, which tokenizer_config.json files do hold (Llama's
// model_max_length is 1000000000000000019884624838656). Such literals are rewritten as floats, the
// nearest a template could use anyway.
std::string widen_big_integers(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  bool in_string = false;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (in_string) {
      out.push_back(c);
      if (c == '\\' && i + 1 < text.size()) {
        out.push_back(text[i + 1]);
        i += 2;
        continue;
      }
      if (c == '"') in_string = false;
      ++i;
      continue;
    }
    if (c == '"') {
      in_string = true;
      out.push_back(c);
      ++i;
      continue;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t j = i + 1;
      bool integral = true;
      while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.' ||
                                 text[j] == 'e' || text[j] == 'E' || text[j] == '+' || text[j] == '-')) {
        integral = integral && std::isdigit(static_cast<unsigned char>(text[j]));
        ++j;
      }
      out.append(text.substr(i, j - i));
      if (integral && j - i >= 19) out += ".0";
      i = j;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

}  // namespace

Value Value::from_json(std::string_view json_text, std::string_view origin) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  auto error = parser.parse(simdjson::padded_string(json_text)).get(root);
  if (error == simdjson::NUMBER_ERROR) {
    error = parser.parse(simdjson::padded_string(widen_big_integers(json_text))).get(root);
  }
  if (error) throw std::runtime_error(std::string(origin) + ": invalid JSON: " + simdjson::error_message(error));
  return from_dom(root);
}

namespace {
constexpr char kEncodedKey = '\x01';
}  // namespace

std::string dict_key(const Value& key) {
  switch (key.kind()) {
    case Value::Kind::String: return key.as_string();
    case Value::Kind::Bool:
    case Value::Kind::Int: return std::string(1, kEncodedKey) + "i" + std::to_string(key.as_int());
    case Value::Kind::Float: {
      const double d = key.as_float();
      // An integral float within int64's range is the int it equals (1.0 and 1 are one key); the range check
      // comes first because converting a float outside it is undefined.
      if (d >= -0x1p63 && d < 0x1p63 && d == std::trunc(d)) {
        return std::string(1, kEncodedKey) + "i" + std::to_string(static_cast<int64_t>(d));
      }
      char buf[40];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
      return std::string(1, kEncodedKey) + "f" + std::string(buf, end);
    }
    case Value::Kind::None: return std::string(1, kEncodedKey) + "n";
    case Value::Kind::Undefined: throw TemplateError(key.undefined_hint());
    default: throw TemplateError("unhashable or unsupported dict key type: '" + key.type_name() + "'");
  }
}

Value key_value(const std::string& stored_key) {
  if (stored_key.size() < 2 || stored_key[0] != kEncodedKey) return Value(stored_key);
  const std::string body = stored_key.substr(2);
  switch (stored_key[1]) {
    case 'i': return Value(static_cast<int64_t>(std::stoll(body)));
    case 'f': return Value(std::stod(body));
    case 'n': return Value(nullptr);
    default: return Value(stored_key);
  }
}

std::optional<Value> CallArgs::get(size_t index, std::string_view name) const {
  if (index < positional.size()) return positional[index];
  for (const auto& [k, v] : keyword) {
    if (k == name) return v;
  }
  return std::nullopt;
}

Value CallArgs::get_or(size_t index, std::string_view name, Value fallback) const {
  auto v = get(index, name);
  return v ? *v : std::move(fallback);
}

void CallArgs::expect_at_most(size_t max_positional, std::initializer_list<std::string_view> keywords) const {
  if (positional.size() > max_positional) {
    throw TemplateError(callee + "() takes at most " + std::to_string(max_positional) +
                        " positional arguments but " + std::to_string(positional.size()) + " were given");
  }
  for (const auto& [k, v] : keyword) {
    bool known = false;
    for (auto allowed : keywords) known = known || allowed == k;
    if (!known) throw TemplateError(callee + "() got an unexpected keyword argument '" + k + "'");
  }
}

}  // namespace sabre::chat
