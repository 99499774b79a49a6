// A hostile or broken template fails with a TemplateError naming the problem instead of overflowing,
// looping for ever or exhausting memory (model/chat/limits.hpp); real templates are far inside the bounds.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "model/chat/chat_template.hpp"
#include "model/chat/error.hpp"

using namespace sabre::chat;

namespace {

std::string render(const std::string& source) {
  const ChatTemplate chat = ChatTemplate::from_string(source, {});
  ChatRequest request;
  request.messages = Value(Array{Value(Object{})});
  return chat.render(request);
}

}  // namespace

TEST_CASE("template limits: 64-bit integer overflow is an error, not a wrapped number", "[chat]") {
  CHECK(render("{{ 2 ** 62 }}") == "4611686018427387904");
  CHECK(render("{{ (-1) ** 1000000000000 }} {{ 1 ** 999999999999 }} {{ 0 ** 0 }}") == "1 1 1");
  for (const char* source : {"{{ 2 ** 63 }}", "{{ 5555555555 * 5555555555 }}", "{{ 9223372036854775807 + 1 }}",
                             "{{ -9223372036854775807 - 2 }}", "{{ -(-9223372036854775807 - 1) }}",
                             "{{ (-9223372036854775807 - 1) // -1 }}", "{{ (-9223372036854775807 - 1) | abs }}"}) {
    INFO(source);
    CHECK_THROWS_WITH(render(source), Catch::Contains("integer overflow"));
  }
  CHECK(render("{{ (-9223372036854775807 - 1) % -1 }}") == "0");
}

TEST_CASE("template limits: runaway size, time and depth", "[chat]") {
  CHECK_THROWS_WITH(render("{{ 'x' * 100000000000 }}"), Catch::Contains("repetition too large"));
  CHECK_THROWS_WITH(render("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}"
                           "{% endfor %}"),
                    Catch::Contains("over the template limit"));
  CHECK_THROWS_WITH(render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"),
                    Catch::Contains("ran too long"));
  CHECK_THROWS_WITH(render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"),
                    Catch::Contains("macro calls nested over"));
  CHECK_THROWS_WITH(render("{{ " + std::string(300, '(') + "1" + std::string(300, ')') + " }}"),
                    Catch::Contains("nested over"));
  CHECK(render(std::string(300, '-') + "1") == std::string(300, '-') + "1");  // plain text, not a tag
  CHECK_THROWS_WITH(render("{{ " + std::string(300, '-') + "1 }}"), Catch::Contains("nested over"));
  std::string chain = "{{ 1";
  for (int i = 0; i < 2000; ++i) chain += " + 1";
  CHECK_THROWS_WITH(render(chain + " }}"), Catch::Contains("tokens"));
  std::string ifs;
  for (int i = 0; i < 300; ++i) ifs += "{% if true %}";
  for (int i = 0; i < 300; ++i) ifs += "{% endif %}";
  CHECK_THROWS_WITH(render(ifs), Catch::Contains("nested over"));
  CHECK_THROWS_WITH(render("{% set ns = namespace() %}{% set ns.me = [ns] %}"), Catch::Contains("cannot hold itself"));
  CHECK_THROWS_WITH(render("{{ '{:>99999999999}'.format(1) }}"), Catch::Contains("format width"));
  CHECK_THROWS_WITH(render("{{ '%99999999999d' % 1 }}"), Catch::Contains("format width"));
  CHECK_THROWS_WITH(render("{{ 'a' | center(99999999999) }}"), Catch::Contains("width"));
  CHECK_THROWS_WITH(render("{{ 'a' | indent(99999999999) }}"), Catch::Contains("width"));
  CHECK_THROWS_WITH(render("{{ [1] | tojson(indent=4444444444444) }}"), Catch::Contains("tojson indent width"));
  CHECK_THROWS_WITH(render("{{ [[[[[[[[1]]]]]]]] | tojson(indent='x' * 20000000) }}"),
                    Catch::Contains("JSON text of") && Catch::Contains("over the template limit"));
  CHECK(render("{{ [1] | tojson(indent=-3) }}") == "[\n1\n]");
  CHECK_THROWS_WITH(render("{% set s = 'a' * 10000000 %}{{ s | replace('a', s) }}"), Catch::Contains("over the template limit"));
  CHECK_THROWS_WITH(render("{% set s = 'a' * 10000000 %}{{ [s, s, s, s, s, s, s, s] | join }}"),
                    Catch::Contains("over the template limit"));
  CHECK_THROWS_WITH(render("{% set l = [1] * 5000 %}{% set m = [l] * 5000 %}{{ [m] * 5000 }}"),
                    Catch::Contains("over the template limit"));
  // Lists are bounded in items: copies of the messages are cheap each, but millions are not.
  CHECK_THROWS_WITH(render("{{ messages * 1111110 }}"), Catch::Contains("repetition too large"));
  // An empty string or list repeated any number of times is empty at once, not after billions of steps.
  CHECK(render("{{ ('' * 5555555955) | length }} {{ ([] * 5555555955) | length }}.") ==
        "0 0.");
  CHECK(render("{{ (5555555955 * undefined_name | upper) | length }}") == "0");
  CHECK_THROWS_WITH(render("{% set ns = namespace(l=[1]) %}{% for i in range(30) %}{% set ns.l = ns.l + ns.l %}"
                           "{% endfor %}"),
                    Catch::Contains("a list of 524288 is over the template limit of 262144"));
  CHECK(render("{{ ([0] * 262144) | length }}") == "262144");
  // A string iterates as a list of characters, so it is bounded the same way; joining a string with a long
  // separator again and again would otherwise build gigabytes of one-character values.
  CHECK(render("{{ ('x' * 262144) | list | length }}") == "262144");
  CHECK_THROWS_WITH(render("{{ ('x' * 262145) | join(',') }}"),
                    Catch::Contains("iterating a string of over 262144 characters is over the template limit of 262144 items"));
  // Stray bytes count as characters: invalid UTF-8 does not slip past the bound.
  CHECK(render("{{ ('\x80' * 262144) | list | length }}") == "262144");
  CHECK_THROWS_WITH(render("{{ ('\x80' * 262145) | join(',') }}"), Catch::Contains("iterating a string of over 262144"));
  CHECK_THROWS_WITH(render("{{ 'ab' | join('-' * 1000) | join('-' * 1000) | join('-' * 1000) }}"),
                    Catch::Contains("over the template limit"));
  CHECK_THROWS_WITH(render("{{ [1].99999999999999999999 }}"), Catch::Contains("out of range"));
  CHECK(render("{{ [7] | map(attribute='99999999999999999999') | list }}") == "[Undefined]");
  // What real templates do stays well inside.
  CHECK(render("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{{ n }}{% endmacro %}{{ f(50) }}").size() > 50);
}

TEST_CASE("template limits: the work of a whole render is bounded, not only each value and step", "[chat]") {
  const auto over_budget = Catch::Contains("bytes of values and text");
  // A large value made or read again and again: each step and value is within its bound, their product is not.
  const std::string big = "{% set big = 'a' * 10000000 %}";
  CHECK_THROWS_WITH(render(big + "{% for i in range(2000) %}{% set y = big ~ 'a' %}{% endfor %}"), over_budget);
  CHECK_THROWS_WITH(render(big + "{% for i in range(2000) %}{% set y %}{{ big }}{% endset %}{% endfor %}"), over_budget);
  CHECK_THROWS_WITH(render(big + "{% for i in range(2000) %}{% if 'zz' in big %}{% endif %}{% endfor %}"), over_budget);
  CHECK_THROWS_WITH(render(big + "{% for i in range(2000) %}{% set n = big | length %}{% endfor %}"), over_budget);
  CHECK_THROWS_WITH(render(big + "{% for i in range(2000) %}{% set n = big.count('b') %}{% endfor %}"), over_budget);
  CHECK_THROWS_WITH(render("{% for i in range(2000) %}{% set l = [0] * 200000 %}{% endfor %}"), over_budget);
  const std::string list = "{% set l = range(100000) | list %}";
  CHECK_THROWS_WITH(render(list + "{% for i in range(2000) %}{% set n = l | sum %}{% endfor %}"), over_budget);
  CHECK_THROWS_WITH(render(list + "{% for i in range(2000) %}{% set n = l.index(99999) %}{% endfor %}"), over_budget);
  // Looking at a list is free: its length, or the list itself, in every iteration.
  CHECK(render(list + "{% set ns = namespace(n=0) %}{% for i in range(20000) %}{% set ns.n = l | length %}"
                      "{% set m = l %}{% endfor %}{{ ns.n }}") == "100000");
  // fuzz_chat_template: a long list printed at every level of macro recursion, each level's text kept
  // until the recursion fails at 100 deep.
  CHECK_THROWS_WITH(render("{% set l = ['x' * 1000] * 20000 %}{% macro f(n) %}{{ l }}{{ f(n + 1) }}{% endmacro %}"
                           "{{ f(0) }}"),
                    over_budget);
  // A caller may set a smaller budget (the fuzz harness does).
  const ChatTemplate chat = ChatTemplate::from_string("{{ 'x' * 2000 }}", {});
  ChatRequest request;
  request.messages = Value(Array{Value(Object{})});
  CHECK(chat.render(request, 10000).size() == 2000);
  CHECK_THROWS_WITH(chat.render(request, 1000), Catch::Contains("over 1000 bytes of values and text"));
}

TEST_CASE("template limits: searching text and `unique` scale with their input, with Python's results", "[chat]") {
  // A long needle of repeats used to cost the product of the lengths (5 s for one `in`), `unique` the
  // square of the items (8 s for 100,000 numbers).
  const std::string texts = "{% set a = 'a' * 1000000 %}{% set b = 'a' * 500000 ~ 'b' %}{% set c = 'a' * 300000 %}";
  CHECK(render(texts + "{{ b in a }} {{ c in a }} {{ a.find(b) }} {{ a.rfind(b) }} {{ a.find(c) }} {{ a.rfind(c) }}") ==
        "False True -1 -1 0 700000");
  CHECK(render(texts + "{{ a.count(b) }} {{ a.count(c) }} {{ a.split(c) | length }} {{ a.rsplit(c) | length }} "
                       "{{ a.split(b) | length }} {{ a.replace(c, 'x') | length }} {{ a.replace(b, 'x') | length }}") ==
        "0 3 4 4 1 100003 1000000");
  CHECK(render("{{ range(100000) | unique | list | length }}") == "100000");
  CHECK(render("{{ [1, 1.0, True, 'a', 'A', none, none, 2.5, 2.5] | unique | list }}") == "[1, 'a', None, 2.5]");
  CHECK(render("{{ ['a', 'A'] | unique(case_sensitive=true) | list }}") == "['a', 'A']");
  CHECK(render("{{ ['\x01i1', 1, '1'] | unique | list | length }}") == "3");
  // A float dict key beyond int64 stays a float key (converting it to an int was undefined behaviour).
  CHECK(render("{{ {1e300: 1, 2.0: 2} }}") == "{1e+300: 1, 2: 2}");
}

TEST_CASE("template limits: real templates render the largest conversation the server accepts", "[chat]") {
  // The server takes request bodies of up to 8 MiB. Qwen3's and Llama 3.1's templates spend about eight
  // times the conversation's size, far below the budget, for a few long messages and for many short ones.
  const auto conversation = [](size_t messages, size_t length) {
    Array list;
    for (size_t i = 0; i < messages; ++i) {
      Object message;
      message.set("role", Value(i % 2 ? "assistant" : "user"));
      message.set("content", Value(std::string(length, static_cast<char>('a' + i % 20))));
      list.push_back(Value(std::move(message)));
    }
    ChatRequest request;
    request.messages = Value(std::move(list));
    request.add_generation_prompt = true;
    return request;
  };
  for (const char* model : {"qwen3", "llama3_1", "smollm2"}) {
    INFO(model);
    const ChatTemplate chat = ChatTemplate::from_tokenizer_config(
        std::filesystem::path(SABRE_TEST_FIXTURES) / "chat" / model / "tokenizer_config.json");
    CHECK(chat.render(conversation(80, 100000)).size() > 8000000 / 2);  // Qwen3 drops old reasoning, not text
    CHECK(chat.render(conversation(40000, 100)).size() > 4000000);
  }
}
