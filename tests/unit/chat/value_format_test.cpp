// Printing and JSON: the expected texts are what CPython 3.11 prints for the same values
// (repr(), str(list), json.dumps), checked by hand with /tmp/venv/bin/python.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "model/chat/error.hpp"
#include "model/chat/value_format.hpp"

using namespace sabre::chat;

TEST_CASE("floats print as Python's repr", "[chat][value]") {
  CHECK(python_float_repr(1.0) == "1.0");
  CHECK(python_float_repr(0.1) == "0.1");
  CHECK(python_float_repr(1e16) == "1e+16");
  CHECK(python_float_repr(1e15) == "1000000000000000.0");
  CHECK(python_float_repr(1e-5) == "1e-05");
  CHECK(python_float_repr(0.0001) == "0.0001");
  CHECK(python_float_repr(-0.0) == "-0.0");
  CHECK(python_float_repr(123456789.123) == "123456789.123");
  CHECK(python_float_repr(5e-324) == "5e-324");
  CHECK(python_float_repr(1.7976931348623157e308) == "1.7976931348623157e+308");
  CHECK(python_float_repr(2.5e-7) == "2.5e-07");
  CHECK(python_float_repr(1234567890123456789.0) == "1.2345678901234568e+18");
  CHECK(python_float_repr(100.0) == "100.0");
  CHECK(python_float_repr(1e22) == "1e+22");
  CHECK(python_float_repr(std::numeric_limits<double>::infinity()) == "inf");
  CHECK(python_float_repr(-std::numeric_limits<double>::infinity()) == "-inf");
}

TEST_CASE("containers print as Python's str()", "[chat][value]") {
  const Value list(Array{Value("a'b"), Value("a\"b"), Value("a'\"b"), Value(std::string(1, '\0')),
                         Value("\xC3\xA9\xE2\x80\x8D\xC2\xA0")});
  CHECK(to_python_str(list) == R"(["a'b", 'a"b', 'a\'"b', '\x00', 'é\u200d\xa0'])");
  Object o;
  o.set("b", Value(nullptr));
  o.set("a", Value::tuple({Value(int64_t{1})}));
  CHECK(to_python_str(Value(o)) == "{'b': None, 'a': (1,)}");
  CHECK(to_python_str(Value()) == "");
  CHECK(to_python_str(Value(true)) == "True");
}

TEST_CASE("to_json matches json.dumps", "[chat][value]") {
  const Value v = Value::from_json(R"({"z": [1, {"a": null}], "a": "é\u2028\u007f"})");
  JsonStyle pretty;
  pretty.indent = "  ";
  pretty.item_separator = ",";
  pretty.sort_keys = true;
  CHECK(to_json(v, pretty) == "{\n  \"a\": \"é\xE2\x80\xA8\x7F\",\n  \"z\": [\n    1,\n    {\n      \"a\": null\n    }\n  ]\n}");
  JsonStyle ascii;
  ascii.ensure_ascii = true;
  CHECK(to_json(Value(Array{Value("é🙂")}), ascii) == R"(["\u00e9\ud83d\ude42"])");
  CHECK(to_json(v, JsonStyle{}) == "{\"z\": [1, {\"a\": null}], \"a\": \"é\xE2\x80\xA8\x7F\"}");
  CHECK_THROWS_AS(to_json(Value(), JsonStyle{}), TemplateError);
}

TEST_CASE("from_json keeps key order, ints and floats apart, and survives huge integers", "[chat][value]") {
  const Value v = Value::from_json(R"({"b": 1, "a": 1.0, "c": 1000000000000000019884624838656, "d": [true]})");
  REQUIRE(v.is_object());
  const auto& entries = v.as_object().entries();
  REQUIRE(entries.size() == 4);
  CHECK(entries[0].first == "b");
  CHECK(entries[1].first == "a");
  CHECK(entries[0].second.is_int());
  CHECK(entries[1].second.is_float());
  CHECK(entries[2].second.is_float());
  CHECK(entries[2].second.as_float() == Approx(1e30));
  CHECK(entries[3].second.as_array()[0].is_bool());
  CHECK_THROWS_WITH(Value::from_json("{\"a\": ", "request.json"), Catch::Contains("request.json"));
}
