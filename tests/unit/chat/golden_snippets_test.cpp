// Every snippet template rendered by transformers' jinja2 environment must render byte for byte the
// same here, and every snippet that fails there must fail here with the expected message.

#include <catch2/catch.hpp>

#include "model/chat/error.hpp"
#include "model/chat/template.hpp"
#include "model/chat/value_format.hpp"
#include "fixture_io.hpp"

using namespace sabre::chat;
using namespace sabre::chat::testing;

TEST_CASE("snippet templates render like jinja2 under transformers' settings", "[chat][golden]") {
  const Array cases = golden_cases("snippets.json");
  REQUIRE(cases.size() >= 100);
  int renders = 0;
  for (const Value& c : cases) {
    if (!has(c, "expected")) continue;
    ++renders;
    const std::string name = field(c, "name");
    const std::string source = field(c, "template");
    INFO("snippet " << name << "\ntemplate: " << source);
    std::string actual;
    try {
      actual = Template::parse(source, "snippet " + name).render(c.as_object().find("context")->as_object());
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: " << e.what());
      continue;
    }
    CHECK(actual == field(c, "expected"));
  }
  CHECK(renders >= 100);
}

TEST_CASE("snippet templates that fail in jinja2 fail here with a located message", "[chat][golden]") {
  const Array cases = golden_cases("snippets.json");
  int errors = 0;
  for (const Value& c : cases) {
    if (!has(c, "error")) continue;
    ++errors;
    const std::string name = field(c, "name");
    INFO("snippet " << name << "\ntemplate: " << field(c, "template") << "\njinja2 said: " << field(c, "reference_error"));
    try {
      const std::string out =
          Template::parse(field(c, "template"), "snippet " + name).render(c.as_object().find("context")->as_object());
      FAIL_CHECK("rendered instead of failing: " << out);
    } catch (const TemplateError& e) {
      const std::string message = e.what();
      INFO("our message: " << message);
      CHECK(message.find(field(c, "error")) != std::string::npos);
      CHECK(message.find("line ") != std::string::npos);  // errors say where
      CHECK(e.located());
    }
  }
  CHECK(errors >= 20);
}
