#pragma once
// The values a chat template computes with. They follow Python's data model closely enough that a
// template renders exactly as it does under Python's jinja2: lists and dicts are shared by reference
// (a namespace assigned in a loop is seen after it), dicts keep insertion order, ints and floats print
// the way Python prints them, and an undefined value remembers why it is undefined for the error it
// raises when a template misuses it.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sabre::chat {

class Value;
struct CallArgs;

using Array = std::vector<Value>;

// A dict with string keys that keeps insertion order, as Python's dict does. Chat templates hold a
// handful of keys per object, so a linear scan beats a hash map here.
class Object {
 public:
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(std::string key, Value value);  // replaces in place, or appends
  bool erase(std::string_view key);
  size_t size() const;  // defined below Value: clang needs Value complete to instantiate the vector's size
  bool empty() const;
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, Value>> entries_;
};

// A built-in function, bound method, filter-like global or macro. `name` is used in error messages.
struct Callable {
  std::string name;
  std::function<Value(CallArgs&)> fn;
};

class Value {
 public:
  enum class Kind { Undefined, None, Bool, Int, Float, String, Array, Object, Namespace, Callable };
  // What Python type an Array stands for. jinja2's map/select/... filters return generators and
  // `reverse` an iterator: always truthy, no len(), no indexing, not JSON-serialisable, while
  // dict.items()/keys()/values() return views that have a length but no indexing.
  enum class Sequence : uint8_t { List, Tuple, Generator, Iterator, DictItems, DictKeys, DictValues };

  Value() = default;  // undefined, with no hint
  Value(std::nullptr_t) : kind_(Kind::None) {}
  Value(bool b) : kind_(Kind::Bool), int_(b ? 1 : 0) {}
  Value(int i) : kind_(Kind::Int), int_(i) {}
  Value(int64_t i) : kind_(Kind::Int), int_(i) {}
  Value(double d) : kind_(Kind::Float), float_(d) {}
  Value(std::string s) : kind_(Kind::String), string_(std::make_shared<std::string>(std::move(s))) {}
  Value(std::string_view s) : Value(std::string(s)) {}
  Value(const char* s) : Value(std::string(s)) {}
  Value(Array a, bool is_tuple = false)
      : kind_(Kind::Array), array_(std::make_shared<Array>(std::move(a))),
        sequence_(is_tuple ? Sequence::Tuple : Sequence::List) {}
  Value(Object o) : kind_(Kind::Object), object_(std::make_shared<Object>(std::move(o))) {}

  // An undefined value whose misuse raises `hint` (e.g. "'x' is undefined").
  static Value undefined(std::string hint);
  static Value namespace_(Object attributes);
  static Value callable(std::string name, std::function<Value(CallArgs&)> fn);
  static Value tuple(Array items) { return Value(std::move(items), true); }
  // A string marked safe for HTML (jinja2's Markup, from the safe and escape filters): adding a plain
  // string to it escapes that string first.
  static Value markup(std::string text) {
    Value v(std::move(text));
    v.markup_ = true;
    return v;
  }
  static Value sequence(Array items, Sequence flavour) {
    Value v(std::move(items));
    v.sequence_ = flavour;
    return v;
  }

  // Parses JSON text into a value (objects keep key order, integers stay ints). Throws
  // std::runtime_error naming `origin` and the offset when the text is not valid JSON.
  static Value from_json(std::string_view json_text, std::string_view origin = "JSON");

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_int() const { return kind_ == Kind::Int; }
  bool is_float() const { return kind_ == Kind::Float; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_markup() const { return kind_ == Kind::String && markup_; }
  // Any array-backed iterable: list, tuple, generator, iterator or dict view.
  bool is_array() const { return kind_ == Kind::Array; }
  // A real Python sequence (list or tuple): indexable, sliceable, with a length.
  bool is_sequence() const {
    return kind_ == Kind::Array && (sequence_ == Sequence::List || sequence_ == Sequence::Tuple);
  }
  bool is_list() const { return kind_ == Kind::Array && sequence_ == Sequence::List; }
  bool is_tuple() const { return kind_ == Kind::Array && sequence_ == Sequence::Tuple; }
  // A generator or iterator: truthy even when empty and without a length.
  bool is_lazy() const {
    return kind_ == Kind::Array && (sequence_ == Sequence::Generator || sequence_ == Sequence::Iterator);
  }
  Sequence sequence_kind() const { return sequence_; }
  bool is_object() const { return kind_ == Kind::Object; }
  bool is_namespace() const { return kind_ == Kind::Namespace; }
  bool is_callable() const { return kind_ == Kind::Callable; }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }  // also for bools
  double as_float() const { return kind_ == Kind::Float ? float_ : static_cast<double>(int_); }
  const std::string& as_string() const { return *string_; }
  const Array& as_array() const { return *array_; }
  Array& as_array() { return *array_; }
  const Object& as_object() const { return *object_; }  // also a namespace's attributes
  Object& as_object() { return *object_; }
  const Callable& as_callable() const { return *callable_; }
  const std::string& undefined_hint() const;

  // Python truthiness: None, undefined, False, 0, 0.0, "", [] and {} are false.
  bool truthy() const;
  // Python's type name ("str", "list", "dict", "NoneType", ...), for error messages.
  std::string type_name() const;
  // Python's `==` (1 == 1.0 == True; lists and dicts element-wise; undefined equals undefined).
  bool equals(const Value& other) const;
  // Whether two values are the same object (Python `is`), for containers; scalars compare by value.
  bool same_as(const Value& other) const;

 private:
  Kind kind_ = Kind::Undefined;
  int64_t int_ = 0;
  double float_ = 0.0;
  std::shared_ptr<std::string> string_;  // string text, or an undefined value's hint
  std::shared_ptr<Array> array_;
  std::shared_ptr<Object> object_;
  std::shared_ptr<Callable> callable_;
  Sequence sequence_ = Sequence::List;
  bool markup_ = false;
};

// Python dicts also take ints, floats and None as keys (`{0: 'a', 512: 'b'}` in a template). Object
// stores such a key under an encoded string that JSON text cannot produce by accident; these convert.
// Equal numbers give the same key (1, 1.0 and True), as in Python. Throws TemplateError for keys
// Python cannot hash (lists, dicts) or that this implementation does not support (tuples).
std::string dict_key(const Value& key);
Value key_value(const std::string& stored_key);

// Positional and keyword arguments of a call; `take` helpers give filters and methods Python-like
// parameter binding (positional first, then by name, else the default).
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  std::string callee;  // for error messages

  // The argument at `index` or named `name`; nullopt when neither was passed.
  std::optional<Value> get(size_t index, std::string_view name) const;
  Value get_or(size_t index, std::string_view name, Value fallback) const;
  // Throws when more positional arguments than `max_positional` or an unknown keyword were passed.
  void expect_at_most(size_t max_positional, std::initializer_list<std::string_view> keywords) const;
};

inline size_t Object::size() const { return entries_.size(); }
inline bool Object::empty() const { return entries_.empty(); }

}  // namespace sabre::chat
