// JSON Schema and JSON object grammars: documents that satisfy a schema match, documents that break it
// do not, and keywords that cannot be expressed are refused by name and place.
#include <catch2/catch.hpp>

#include "grammar_support.hpp"
#include "model/structured/json_grammar.hpp"

namespace sabre::structured {
namespace {

using test::lowered;
using test::matches;

struct Case {
  std::string document;
  bool valid;
};

void check_schema(const std::string& schema, const std::vector<Case>& cases) {
  INFO("schema " << schema);
  const auto grammar = lowered(json_schema_rules(schema));
  for (const auto& c : cases) {
    INFO("document " << c.document);
    CHECK(matches(grammar, c.document) == c.valid);
  }
}

TEST_CASE("any JSON object", "[structured][json]") {
  const auto g = lowered(json_object_rules());
  CHECK(matches(g, "{}"));
  CHECK(matches(g, R"({"a": [1, 2.5e-3, -0, true, null, {"b": "c\"\u00e9"}]})"));
  CHECK(matches(g, "{\n  \"k\": \"v\"\n}"));
  CHECK_FALSE(matches(g, "[]"));
  CHECK_FALSE(matches(g, R"({"a": 01})"));
  CHECK_FALSE(matches(g, R"({"a": "x\q"})"));
  CHECK_FALSE(matches(g, "{\"a\": \"line\nbreak\"}"));
  CHECK_FALSE(matches(g, R"({"a": 1,})"));
  CHECK_FALSE(matches(g, R"( {})"));
}

TEST_CASE("objects: properties in order, required ones present, no others", "[structured][json]") {
  check_schema(R"({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                   "tags": {"type": "array", "items": {"type": "string"}}}, "required": ["name"]})",
               {{R"({"name": "Ann"})", true},
                {R"({"name": "Ann", "age": 30})", true},
                {R"({"name":"Ann","tags":["a","b"]})", true},
                {R"({"name": "Ann", "age": 30, "tags": []})", true},
                {R"({"age": 30})", false},
                {R"({"name": 5})", false},
                {R"({"name": "Ann", "age": 3.5})", false},
                {R"({"name": "Ann", "other": 1})", false},
                {R"({})", false}});
  check_schema(R"({"type": "object", "properties": {"a": {"type": "boolean"}}})",
               {{"{}", true}, {R"({"a": true})", true}, {R"({"a": 1})", false}});
  check_schema(R"({"type": "object", "additionalProperties": {"type": "number"}})",
               {{"{}", true}, {R"({"x": 1, "y": 2.5})", true}, {R"({"x": "1"})", false}});
}

TEST_CASE("strings: lengths, patterns, formats, enum and const", "[structured][json]") {
  check_schema(R"({"type": "string", "minLength": 2, "maxLength": 3})",
               {{R"("ab")", true}, {R"("a\"c")", true}, {R"("a")", false}, {R"("abcd")", false}});
  check_schema(R"({"type": "string", "pattern": "^[A-Z]{2}-\\d{3}$"})",
               {{R"("AB-123")", true}, {R"("AB-12")", false}, {R"("xAB-123")", false}});
  check_schema(R"({"type": "string", "pattern": "cat"})",
               {{R"("a cat!")", true}, {R"("cat")", true}, {R"("dog")", false}});
  check_schema(R"({"type": "string", "format": "date"})",
               {{R"("2026-12-07")", true}, {R"("2026-13-07")", false}, {R"("07.12.2026")", false}});
  check_schema(R"({"type": "string", "format": "uuid"})",
               {{R"("123e4567-e89b-12d3-a456-426614174000")", true}, {R"("123e4567")", false}});
  check_schema(R"({"enum": ["red", "green", 3, null]})",
               {{R"("red")", true}, {"3", true}, {"null", true}, {R"("blue")", false}});
  check_schema(R"({"const": {"a": [1, 2]}})", {{R"({"a":[1,2]})", true}, {R"({"a":[2,1]})", false}});
}

TEST_CASE("integers in a range, from the digits up", "[structured][json]") {
  const auto in = [](int64_t lo, int64_t hi) {
    return std::string(R"({"type": "integer", "minimum": )") + std::to_string(lo) + R"(, "maximum": )" +
           std::to_string(hi) + "}";
  };
  for (auto [lo, hi] : std::vector<std::pair<int64_t, int64_t>>{{0, 0}, {7, 93}, {-15, 4}, {-120, -3}, {95, 1050}}) {
    const auto grammar = lowered(json_schema_rules(in(lo, hi)));
    for (int64_t v = lo - 30; v <= hi + 30; ++v) {
      INFO(lo << ".." << hi << " value " << v);
      CHECK(matches(grammar, std::to_string(v)) == (v >= lo && v <= hi));
    }
    CHECK_FALSE(matches(grammar, "-0"));
    CHECK_FALSE(matches(grammar, "007"));
  }
  const auto open = lowered(json_schema_rules(R"({"type": "integer", "exclusiveMinimum": 9})"));
  CHECK(matches(open, "10"));
  CHECK(matches(open, "123456"));
  CHECK_FALSE(matches(open, "9"));
  CHECK_FALSE(matches(open, "-10"));
}

TEST_CASE("arrays: items, prefixItems and counts", "[structured][json]") {
  check_schema(R"({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3})",
               {{"[1, 2]", true}, {"[1,2,3]", true}, {"[1]", false}, {"[1,2,3,4]", false}, {"[1, \"2\"]", false}});
  check_schema(R"({"type": "array", "prefixItems": [{"type": "string"}, {"type": "number"}]})",
               {{R"(["a", 1])", true}, {R"(["a"])", true}, {"[]", true}, {R"(["a", 1, 2])", false}});
  check_schema(R"({"type": "array", "items": {"type": "boolean"}})",
               {{"[]", true}, {"[true, false, true, true]", true}, {"[1]", false}});
}

TEST_CASE("$ref, $defs, recursion, anyOf and type lists", "[structured][json]") {
  check_schema(R"({"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"},
                   "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}}, "required": ["value", "next"]}},
                   "$ref": "#/$defs/node"})",
               {{R"({"value": 1, "next": null})", true},
                {R"({"value": 1, "next": {"value": 2, "next": null}})", true},
                {R"({"value": 1})", false}});
  check_schema(R"({"type": "object", "required": ["id"]})",
               {{R"({"id": [1, {"x": null}]})", true}, {"{}", false}, {R"({"other": 1})", false}});
  check_schema(R"({"type": "object", "required": ["x"], "additionalProperties": {"type": "integer"}})",
               {{R"({"x": 5})", true}, {R"({"x": "s"})", false}, {R"({"x": 5, "y": 6})", true}});
  check_schema(R"({"type": "string", "enum": ["a", 1, "b"]})", {{R"("a")", true}, {"1", false}});
  check_schema(R"({"type": ["string", "null"]})", {{R"("x")", true}, {"null", true}, {"1", false}});
}

TEST_CASE("unsupported keywords are refused by name and place", "[structured][json]") {
  const auto refused = [](const std::string& schema, const std::string& words) {
    INFO("schema " << schema);
    CHECK_THROWS_WITH(json_schema_rules(schema), Catch::Contains(words));
  };
  refused(R"({"type": "array", "uniqueItems": true})", "\"uniqueItems\" is not supported");
  refused(R"({"type": "object", "properties": {"a": {"type": "number", "multipleOf": 2}}})",
          "\"multipleOf\" is not supported (at #/properties/a)");
  refused(R"({"type": "string", "format": "hostname"})", "format \"hostname\"");
  refused(R"({"type": "number", "minimum": 0.5})", "\"minimum\" on a number");
  refused(R"({"allOf": [{"type": "string"}, {"maxLength": 3}]})", "allOf");
  refused(R"({"type": "object", "patternProperties": {"^x": {}}})", "patternProperties");
  refused(R"({"$ref": "http://example.com/schema"})", "only local references");
  refused(R"({"$ref": "#/$defs/missing"})", "points at nothing");
  refused(R"({"type": "strin"})", "not a JSON Schema type");
  refused(R"({"type": ["null", "null"]})", "twice");
  refused(R"({"properties": {"age": {"type": "integer"}}, "additionalProperties": true})", "beside properties");
  refused(R"({"type": "object", "required": ["x"], "additionalProperties": false})", "additionalProperties is false");
  refused(R"({"type": "string", "const": 1})", "not of the schema's type");
  refused(R"({"type": "string", "enum": [1, 2]})", "matches nothing");
  refused("{not json", "not valid JSON");
  refused("false", "matches nothing");
}

}  // namespace
}  // namespace sabre::structured
