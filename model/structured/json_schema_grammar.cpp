// JSON Schema -> grammar rules (json_grammar.hpp). Each subschema becomes an expression; $ref targets
// and objects become rules of their own, so recursive schemas work and errors can name where they are.
//
// The grammar is at least as strict as the schema: where JSON Schema allows more than is practical to
// generate, the output is narrowed (properties in the schema's order; no properties beyond those listed
// unless additionalProperties says so; limited whitespace and digits; ASCII-only \d \w in patterns).
// Where it would have to allow more than the schema (keywords it cannot express), it refuses.

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "config/text/json_writer.hpp"
#include "model/structured/json_grammar.hpp"
#include "model/structured/regex_grammar.hpp"

namespace sabre::structured {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

constexpr int kMaxSchemaDepth = 64;
constexpr int64_t kMaxIntegerDigits = 16;  // json-integer's limit

Expr lit(std::string_view s) { return Expr::literal(s); }

// Keywords that only describe (never constrain) and those that only hold subschemas for $ref.
const std::set<std::string_view> kAnnotations{"title", "description", "default", "examples", "$schema", "$id",
                                              "$comment", "deprecated", "readOnly", "writeOnly", "$defs",
                                              "definitions", "$anchor", "contentMediaType", "contentEncoding"};

std::string minified(element e) { return simdjson::minify(e); }

// The integers [lo, hi] of equal digit count, as a digit-by-digit expression.
Expr same_length_range(const std::string& lo, const std::string& hi) {
  const auto digit = [](char a, char b) { return Expr::byte_set(ByteSet::range(static_cast<uint8_t>(a), static_cast<uint8_t>(b))); };
  if (lo.size() == 1) return digit(lo[0], hi[0]);
  const std::string lo_rest = lo.substr(1), hi_rest = hi.substr(1);
  if (lo[0] == hi[0]) return Expr::seq({digit(lo[0], lo[0]), same_length_range(lo_rest, hi_rest)});
  std::vector<Expr> alternatives;
  alternatives.push_back(Expr::seq({digit(lo[0], lo[0]), same_length_range(lo_rest, std::string(lo_rest.size(), '9'))}));
  if (lo[0] + 1 <= hi[0] - 1) {
    alternatives.push_back(Expr::seq({digit(static_cast<char>(lo[0] + 1), static_cast<char>(hi[0] - 1)),
                                      Expr::repeat(digit('0', '9'), static_cast<int64_t>(lo_rest.size()),
                                                   static_cast<int64_t>(lo_rest.size()))}));
  }
  alternatives.push_back(Expr::seq({digit(hi[0], hi[0]), same_length_range(std::string(hi_rest.size(), '0'), hi_rest)}));
  return Expr::any_of(std::move(alternatives));
}

uint64_t pow10(size_t n) {
  uint64_t v = 1;
  while (n-- > 0) v *= 10;
  return v;
}

// The decimal texts of the integers in [lo, hi] (0 <= lo <= hi), without leading zeros.
Expr natural_range(uint64_t lo, uint64_t hi) {
  std::vector<Expr> alternatives;
  for (size_t digits = std::to_string(lo).size(); digits <= std::to_string(hi).size(); ++digits) {
    const uint64_t first = digits == 1 ? 0 : pow10(digits - 1);
    const uint64_t last = pow10(digits) - 1;
    const uint64_t a = std::max(lo, first), b = std::min(hi, last);
    if (a <= b) alternatives.push_back(same_length_range(std::to_string(a), std::to_string(b)));
  }
  return Expr::any_of(std::move(alternatives));
}

// [lo, unbounded): the range up to the next power of ten, then any longer number.
Expr natural_from(uint64_t lo) {
  const size_t digits = std::to_string(lo).size();
  std::vector<Expr> alternatives{natural_range(lo, pow10(digits) - 1)};
  if (static_cast<int64_t>(digits) < kMaxIntegerDigits) {
    alternatives.push_back(Expr::seq({Expr::byte_set(ByteSet::range('1', '9')),
                                      Expr::repeat(Expr::byte_set(ByteSet::range('0', '9')), static_cast<int64_t>(digits),
                                                   kMaxIntegerDigits - 1)}));
  }
  return Expr::any_of(std::move(alternatives));
}

class SchemaCompiler {
 public:
  explicit SchemaCompiler(std::string_view text) {
    if (parser_.parse(text.data(), text.size()).get(document_)) {
      throw GrammarError("json_schema: the schema is not valid JSON");
    }
    add_json_rules(rules_);
  }

  RuleMap run() {
    rules_["root"] = value(document_, "#", 0);
    while (!pending_refs_.empty()) {
      const auto [pointer, name] = pending_refs_.back();
      pending_refs_.pop_back();
      rules_[name] = value(resolve(pointer), pointer, 0);
    }
    return std::move(rules_);
  }

 private:
  [[noreturn]] static void fail(const std::string& path, const std::string& what) {
    throw GrammarError(fmt::format("json_schema: {} (at {})", what, path));
  }

  element resolve(const std::string& pointer) {
    if (pointer == "#") return document_;
    if (!pointer.starts_with("#/")) fail(pointer, "only local references (\"#/...\") are supported in $ref");
    element target;
    if (document_.at_pointer(pointer.substr(1)).get(target)) fail(pointer, "$ref points at nothing");
    return target;
  }

  Expr reference(const std::string& pointer) {
    auto [it, added] = ref_rules_.emplace(pointer, fmt::format("ref-{}", ref_rules_.size()));
    if (added) pending_refs_.emplace_back(pointer, it->second);
    return Expr::ref(it->second);
  }

  Expr value(element schema, const std::string& path, int depth) {
    if (depth > kMaxSchemaDepth) fail(path, fmt::format("subschemas nested deeper than {}", kMaxSchemaDepth));
    if (schema.type() == element_type::BOOL) {
      if (bool(schema)) return Expr::ref("json-value");
      fail(path, "the schema false matches nothing");
    }
    if (schema.type() != element_type::OBJECT) fail(path, "a schema must be an object or a boolean");
    const object s = schema;
    std::set<std::string_view> keys;
    for (auto field : s) {
      if (!kAnnotations.count(field.key)) keys.insert(field.key);
    }
    const auto has = [&](std::string_view k) { return keys.count(k) > 0; };
    const auto only = [&](std::initializer_list<std::string_view> allowed, std::string_view what) {
      for (std::string_view k : keys) {
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
          fail(path, fmt::format("\"{}\" beside \"{}\" is not supported", k, what));
        }
      }
    };
    if (has("$ref")) {
      only({"$ref"}, "$ref");
      std::string_view target;
      if (s["$ref"].get(target)) fail(path, "$ref must be a string");
      return reference(std::string(target));
    }
    if (has("const")) {
      only({"const", "type"}, "const");
      const std::vector<std::string> types = schema_types(s, path);
      const element constant = s["const"].value_unsafe();
      if (!types.empty() && !of_types(constant, types)) fail(path, "const is not of the schema's type");
      return lit(minified(constant));
    }
    if (has("enum")) {
      only({"enum", "type"}, "enum");
      const std::vector<std::string> types = schema_types(s, path);
      simdjson::dom::array values;
      if (s["enum"].get(values)) fail(path, "enum must be an array");
      std::vector<Expr> alternatives;
      // Values of another type than the schema's can never be valid: they are left out.
      for (element v : values) {
        if (types.empty() || of_types(v, types)) alternatives.push_back(lit(minified(v)));
      }
      if (alternatives.empty()) fail(path, "no enum value is of the schema's type: it matches nothing");
      return Expr::any_of(std::move(alternatives));
    }
    for (std::string_view combinator : {"anyOf", "oneOf"}) {
      if (!has(combinator)) continue;
      // oneOf is taken as anyOf: its branches are expected to be disjoint (different types or consts).
      only({combinator}, combinator);
      simdjson::dom::array branches;
      if (s[combinator].get(branches)) fail(path, fmt::format("{} must be an array", combinator));
      std::vector<Expr> alternatives;
      size_t i = 0;
      for (element branch : branches) {
        alternatives.push_back(value(branch, fmt::format("{}/{}/{}", path, combinator, i++), depth + 1));
      }
      if (alternatives.empty()) fail(path, fmt::format("an empty {} matches nothing", combinator));
      return Expr::any_of(std::move(alternatives));
    }
    if (has("allOf")) {
      only({"allOf"}, "allOf");
      simdjson::dom::array parts;
      if (s["allOf"].get(parts) || parts.size() != 1) fail(path, "allOf with more than one schema is not supported");
      return value(parts.at(0).value_unsafe(), path + "/allOf/0", depth + 1);
    }
    std::vector<std::string> types = schema_types(s, path);
    bool nullable = false;
    if (has("nullable")) {
      bool flag = false;
      if (s["nullable"].get(flag)) fail(path, "nullable must be a boolean");
      nullable = flag;
      keys.erase("nullable");
    }
    if (types.empty()) {
      if (has("properties") || has("required") || has("additionalProperties")) types = {"object"};
      else if (has("items") || has("prefixItems") || has("minItems") || has("maxItems")) types = {"array"};
      else if (has("minLength") || has("maxLength") || has("pattern") || has("format")) types = {"string"};
      else if (has("minimum") || has("maximum") || has("exclusiveMinimum") || has("exclusiveMaximum")) types = {"number"};
    }
    if (types.empty()) {
      for (std::string_view k : keys) {
        if (k != "type") fail(path, fmt::format("the keyword \"{}\" is not supported", k));
      }
      return Expr::ref("json-value");
    }
    check_keywords(keys, types, path);
    std::vector<Expr> alternatives;
    for (const std::string& type : types) alternatives.push_back(typed(s, type, path, depth));
    if (nullable) alternatives.push_back(Expr::ref("json-null"));
    return Expr::any_of(std::move(alternatives));
  }

  // Whether a JSON value is of one of the JSON Schema types (an integer is a number too; 1.0 an integer).
  static bool of_types(const element& v, const std::vector<std::string>& types) {
    const auto is = [&](std::string_view t) { return std::find(types.begin(), types.end(), t) != types.end(); };
    switch (v.type()) {
      case element_type::INT64:
      case element_type::UINT64: return is("integer") || is("number");
      case element_type::DOUBLE: {
        const double d = double(v);
        return is("number") || (is("integer") && std::isfinite(d) && d == std::floor(d));
      }
      case element_type::STRING: return is("string");
      case element_type::BOOL: return is("boolean");
      case element_type::NULL_VALUE: return is("null");
      case element_type::ARRAY: return is("array");
      case element_type::OBJECT: return is("object");
    }
    return false;
  }

  static std::vector<std::string> schema_types(const object& s, const std::string& path) {
    element type;
    if (s["type"].get(type)) return {};
    std::vector<std::string> types;
    if (type.type() == element_type::STRING) {
      types.emplace_back(std::string_view(type));
    } else if (type.type() == element_type::ARRAY) {
      for (element t : simdjson::dom::array(type)) {
        if (t.type() != element_type::STRING) fail(path, "type must be a string or an array of strings");
        types.emplace_back(std::string_view(t));
      }
    } else {
      fail(path, "type must be a string or an array of strings");
    }
    for (size_t i = 0; i < types.size(); ++i) {
      if (std::find(types.begin(), types.begin() + static_cast<std::ptrdiff_t>(i), types[i]) != types.begin() + static_cast<std::ptrdiff_t>(i)) {
        fail(path, fmt::format("type lists \"{}\" twice", types[i]));
      }
    }
    for (const auto& t : types) {
      static const std::set<std::string> known{"string", "integer", "number", "boolean", "null", "object", "array"};
      if (!known.count(t)) fail(path, fmt::format("the type \"{}\" is not a JSON Schema type", t));
    }
    return types;
  }

  // Every keyword must belong to one of the types (a keyword of another type does not apply to a value
  // of this one, so it constrains nothing there).
  static void check_keywords(const std::set<std::string_view>& keys, const std::vector<std::string>& types,
                             const std::string& path) {
    static const std::map<std::string_view, std::set<std::string_view>> by_type{
        {"string", {"minLength", "maxLength", "pattern", "format"}},
        {"integer", {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}},
        {"number", {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}},
        {"object", {"properties", "required", "additionalProperties"}},
        {"array", {"items", "prefixItems", "minItems", "maxItems"}},
    };
    for (std::string_view k : keys) {
      if (k == "type") continue;
      bool known = false;
      for (const auto& [type, keywords] : by_type) known = known || keywords.count(k);
      if (!known) fail(path, fmt::format("the keyword \"{}\" is not supported", k));
    }
  }

  Expr typed(const object& s, const std::string& type, const std::string& path, int depth) {
    if (type == "string") return string_value(s, path);
    if (type == "integer") return integer_value(s, path);
    if (type == "number") return number_value(s, path);
    if (type == "boolean") return Expr::ref("json-boolean");
    if (type == "null") return Expr::ref("json-null");
    if (type == "object") return object_value(s, path, depth);
    return array_value(s, path, depth);
  }

  static std::optional<int64_t> int_keyword(const object& s, std::string_view key, const std::string& path) {
    element e;
    if (s[key].get(e)) return std::nullopt;
    int64_t v = 0;
    if (e.get(v)) {
      double d = 0;
      if (e.get(d) || d != static_cast<double>(static_cast<int64_t>(d))) {
        fail(path, fmt::format("{} must be an integer", key));
      }
      v = static_cast<int64_t>(d);
    }
    return v;
  }

  Expr string_value(const object& s, const std::string& path) {
    const auto min_length = int_keyword(s, "minLength", path);
    const auto max_length = int_keyword(s, "maxLength", path);
    std::string_view pattern, format;
    const bool has_pattern = !s["pattern"].get(pattern);
    const bool has_format = !s["format"].get(format);
    if ((has_pattern || has_format) && (min_length || max_length)) {
      fail(path, "minLength/maxLength together with pattern or format is not supported");
    }
    if (has_pattern && has_format) fail(path, "pattern together with format is not supported");
    const RegexOptions in_string{RegexContext::json_string};
    const auto quoted = [](Expr inner) { return Expr::seq({lit("\""), std::move(inner), lit("\"")}); };
    if (has_format) return quoted(regex_expr(format_regex(format, path), in_string));
    if (has_pattern) {
      Expr body = regex_expr(pattern, in_string);
      // A pattern is a search unless anchored: anything may come before and after the match.
      const bool starts = pattern.starts_with('^');
      const bool ends = regex_is_anchored(std::string("^") + std::string(pattern));
      std::vector<Expr> parts;
      if (!starts) parts.push_back(Expr::star(Expr::ref("json-char")));
      parts.push_back(std::move(body));
      if (!ends) parts.push_back(Expr::star(Expr::ref("json-char")));
      return quoted(Expr::seq(std::move(parts)));
    }
    const int64_t lo = min_length.value_or(0);
    const int64_t hi = max_length ? *max_length : Expr::kUnbounded;
    if (lo < 0 || (hi != Expr::kUnbounded && hi < lo)) fail(path, "minLength/maxLength out of order");
    return quoted(Expr::repeat(Expr::ref("json-char"), lo, hi));
  }

  static std::string format_regex(std::string_view format, const std::string& path) {
    static const std::map<std::string_view, std::string> formats{
        {"date", R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01]))"},
        {"time", R"(([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d))"},
        {"date-time", R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d))"},
        {"uuid", R"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"},
        {"ipv4", R"(((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))"},
        {"email", R"([a-zA-Z0-9_%+-]+(\.[a-zA-Z0-9_%+-]+)*@[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,24})"},
    };
    const auto it = formats.find(format);
    if (it == formats.end()) {
      fail(path, fmt::format("the format \"{}\" is not supported (supported: date, time, date-time, uuid, ipv4, "
                             "email)", format));
    }
    return it->second;
  }

  static std::optional<double> number_keyword(const object& s, std::string_view key, const std::string& path) {
    element e;
    if (s[key].get(e)) return std::nullopt;
    double v = 0;
    if (e.get(v)) fail(path, fmt::format("{} must be a number", key));
    return v;
  }

  Expr integer_value(const object& s, const std::string& path) {
    const auto minimum = number_keyword(s, "minimum", path);
    const auto maximum = number_keyword(s, "maximum", path);
    const auto exclusive_min = number_keyword(s, "exclusiveMinimum", path);
    const auto exclusive_max = number_keyword(s, "exclusiveMaximum", path);
    if (!minimum && !maximum && !exclusive_min && !exclusive_max) return Expr::ref("json-integer");
    constexpr double kLimit = 1e15;
    std::optional<int64_t> lo, hi;
    const auto bound = [&](double v) {
      if (!(std::abs(v) < kLimit)) fail(path, "integer bounds beyond 1e15 are not supported");
      return v;
    };
    if (minimum) lo = static_cast<int64_t>(std::ceil(bound(*minimum)));
    if (exclusive_min) lo = std::max(lo.value_or(INT64_MIN), static_cast<int64_t>(std::floor(bound(*exclusive_min))) + 1);
    if (maximum) hi = static_cast<int64_t>(std::floor(bound(*maximum)));
    if (exclusive_max) hi = std::min(hi.value_or(INT64_MAX), static_cast<int64_t>(std::ceil(bound(*exclusive_max))) - 1);
    if (lo && hi && *lo > *hi) fail(path, "the integer bounds leave no value");
    std::vector<Expr> alternatives;
    // Non-negative part: [max(lo, 0), hi].
    if (!hi || *hi >= 0) {
      const auto from = static_cast<uint64_t>(std::max<int64_t>(lo.value_or(0), 0));
      alternatives.push_back(hi ? natural_range(from, static_cast<uint64_t>(*hi)) : natural_from(from));
    }
    // Negative part: "-" and the magnitudes [max(1, -hi), -lo].
    if (!lo || *lo < 0) {
      const auto from = static_cast<uint64_t>(hi && *hi < 0 ? -*hi : 1);
      alternatives.push_back(Expr::seq({lit("-"), lo ? natural_range(from, static_cast<uint64_t>(-*lo)) : natural_from(from)}));
    }
    return Expr::any_of(std::move(alternatives));
  }

  Expr number_value(const object& s, const std::string& path) {
    for (std::string_view k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
      element e;
      if (!s[k].get(e)) fail(path, fmt::format("\"{}\" on a number (not an integer) is not supported", k));
    }
    return Expr::ref("json-number");
  }

  Expr object_value(const object& s, const std::string& path, int depth) {
    std::vector<std::pair<std::string, element>> properties;
    object props;
    if (!s["properties"].get(props)) {
      for (auto field : props) properties.emplace_back(std::string(field.key), field.value);
    } else if (element e; !s["properties"].get(e)) {
      fail(path, "properties must be an object");
    }
    std::set<std::string> required;
    if (element e; !s["required"].get(e)) {
      if (e.type() != element_type::ARRAY) fail(path, "required must be an array");
      for (element name : simdjson::dom::array(e)) {
        std::string_view n;
        if (name.get(n)) fail(path, "required must list strings");
        required.emplace(n);
      }
    }
    // A required property without a schema of its own takes any value; it comes after the listed ones.
    std::vector<std::string> unlisted;
    for (const auto& name : required) {
      bool listed = false;
      for (const auto& p : properties) listed = listed || p.first == name;
      if (!listed) unlisted.push_back(name);
    }
    // additionalProperties: absent or false allows none beyond those listed; true or a schema allows more.
    std::optional<Expr> extra_value;
    if (element e; !s["additionalProperties"].get(e)) {
      if (e.type() == element_type::BOOL) {
        if (bool(e)) extra_value = Expr::ref("json-value");
      } else {
        extra_value = value(e, path + "/additionalProperties", depth + 1);
      }
    }
    // Other properties beside listed ones would need keys other than the listed names, which the grammar
    // does not express: it would let a listed name through with the other properties' schema.
    if (extra_value && !properties.empty()) {
      fail(path, "additionalProperties (other than false) beside properties is not supported");
    }
    if (!extra_value && !unlisted.empty() && s["additionalProperties"].error() == simdjson::SUCCESS) {
      fail(path, fmt::format("required property \"{}\" is not in properties and additionalProperties is false",
                             unlisted.front()));
    }
    const std::string rule = fmt::format("object-{}", ++objects_);
    const Expr ws = Expr::ref("json-ws");
    const Expr comma = Expr::seq({ws, lit(","), ws});
    std::vector<Expr> members;
    std::vector<std::string> names;
    for (const auto& [name, schema] : properties) {
      names.push_back(name);
      members.push_back(Expr::seq({lit(json_string(name)), ws, lit(":"), ws,
                                   value(schema, path + "/properties/" + name, depth + 1)}));
    }
    // A required property without a schema of its own takes what other properties take.
    for (const auto& name : unlisted) {
      names.push_back(name);
      members.push_back(Expr::seq({lit(json_string(name)), ws, lit(":"), ws,
                                   extra_value ? *extra_value : Expr::ref("json-value")}));
    }
    // Chains over the listed properties in order: some_i = a non-empty run of members from property i on,
    // rest_i = what may follow once something was written.
    const size_t n = members.size();
    std::vector<std::string> some(n + 1), rest(n + 1);
    for (size_t i = 0; i <= n; ++i) {
      some[i] = fmt::format("{}-some-{}", rule, i);
      rest[i] = fmt::format("{}-rest-{}", rule, i);
    }
    if (extra_value) {
      const Expr pair = Expr::seq({Expr::ref("json-string"), ws, lit(":"), ws, *extra_value});
      rules_[rest[n]] = Expr::star(Expr::seq({comma, pair}));
      rules_[some[n]] = Expr::seq({pair, Expr::ref(rest[n])});
    } else {
      rules_[rest[n]] = Expr::empty();
      rules_[some[n]] = Expr::any_of({});  // nothing left to write
    }
    for (size_t i = n; i-- > 0;) {
      const bool is_required = required.count(names[i]) > 0;
      const Expr first_here = Expr::seq({members[i], Expr::ref(rest[i + 1])});
      const Expr next_here = Expr::seq({comma, members[i], Expr::ref(rest[i + 1])});
      rules_[some[i]] = is_required ? first_here : Expr::any_of({first_here, Expr::ref(some[i + 1])});
      rules_[rest[i]] = is_required ? next_here : Expr::any_of({next_here, Expr::ref(rest[i + 1])});
    }
    std::vector<Expr> forms{Expr::seq({lit("{"), ws, Expr::ref(some[0]), ws, lit("}")})};
    if (required.empty()) forms.push_back(Expr::seq({lit("{"), ws, lit("}")}));
    rules_[rule] = Expr::any_of(std::move(forms));
    return Expr::ref(rule);
  }


  Expr array_value(const object& s, const std::string& path, int depth) {
    std::vector<Expr> prefix;
    std::optional<Expr> items;  // the schema of items after the prefix; none: no more items
    bool items_given = false;
    if (element e; !s["prefixItems"].get(e)) {
      if (e.type() != element_type::ARRAY) fail(path, "prefixItems must be an array");
      size_t i = 0;
      for (element item : simdjson::dom::array(e)) prefix.push_back(value(item, fmt::format("{}/prefixItems/{}", path, i++), depth + 1));
    }
    if (element e; !s["items"].get(e)) {
      items_given = true;
      if (e.type() == element_type::ARRAY) {
        if (!prefix.empty()) fail(path, "items as an array beside prefixItems");
        size_t i = 0;  // draft 07's tuple form
        for (element item : simdjson::dom::array(e)) prefix.push_back(value(item, fmt::format("{}/items/{}", path, i++), depth + 1));
      } else if (e.type() == element_type::BOOL) {
        if (bool(e)) items = Expr::ref("json-value");
      } else {
        items = value(e, path + "/items", depth + 1);
      }
    }
    // Without "items", items past a prefix are left out; without either, any items are allowed.
    if (!items_given && prefix.empty()) items = Expr::ref("json-value");
    const int64_t min_items = int_keyword(s, "minItems", path).value_or(0);
    const auto max_keyword = int_keyword(s, "maxItems", path);
    const auto prefix_count = static_cast<int64_t>(prefix.size());
    const bool unbounded = items && !max_keyword;
    int64_t max_items = max_keyword.value_or(prefix_count);
    if (!items) max_items = std::min(max_items, prefix_count);
    if (min_items < 0 || (!unbounded && max_items < min_items)) fail(path, "minItems/maxItems leave no array");
    // Items written out one by one: the prefix, then `items` up to the minimum (or the maximum when
    // bounded); past them, an unbounded array repeats `items`.
    int64_t explicit_count = unbounded ? std::max(prefix_count, min_items) : max_items;
    if (unbounded && explicit_count == 0) explicit_count = 1;
    if (explicit_count > 1000) fail(path, "arrays of more than 1000 listed items are not supported");
    const std::string rule = fmt::format("array-{}", ++arrays_);
    // Each element's schema is a rule of its own, so that copies of it below are references.
    const auto named = [&](Expr e, const std::string& name) {
      rules_[name] = std::move(e);
      return Expr::ref(name);
    };
    std::vector<Expr> elements;
    for (size_t i = 0; i < prefix.size(); ++i) elements.push_back(named(std::move(prefix[i]), fmt::format("{}-{}", rule, i)));
    if (items) items = named(std::move(*items), rule + "-item");
    while (static_cast<int64_t>(elements.size()) < explicit_count) elements.push_back(*items);
    const Expr ws = Expr::ref("json-ws");
    const Expr comma = Expr::seq({ws, lit(","), ws});
    std::vector<Expr> forms;
    if (min_items == 0) forms.push_back(Expr::seq({lit("["), ws, lit("]")}));
    if (explicit_count > 0) {
      Expr tail = unbounded ? Expr::star(Expr::seq({comma, *items})) : Expr::empty();
      for (int64_t i = explicit_count - 1; i >= 1; --i) {
        std::vector<Expr> parts;  // moved, not copied: the tail grows with every element
        parts.push_back(comma);
        parts.push_back(elements[static_cast<size_t>(i)]);
        parts.push_back(std::move(tail));
        Expr step = Expr::seq(std::move(parts));
        tail = i < min_items ? std::move(step) : Expr::optional(std::move(step));
      }
      forms.push_back(Expr::seq({lit("["), ws, elements[0], std::move(tail), ws, lit("]")}));
    }
    rules_[rule] = Expr::any_of(std::move(forms));
    return Expr::ref(rule);
  }

  simdjson::dom::parser parser_;
  element document_;
  RuleMap rules_;
  std::map<std::string, std::string> ref_rules_;
  std::vector<std::pair<std::string, std::string>> pending_refs_;
  int objects_ = 0;
  int arrays_ = 0;
};

}  // namespace

RuleMap json_schema_rules(std::string_view schema) { return SchemaCompiler(schema).run(); }

}  // namespace sabre::structured
