#pragma once
// What a request constrains its output to (guided decoding), as plain data: the kind and its source
// text. It travels with the sampling parameters to every rank, which compiles it against the model's
// vocabulary (model/structured/); the HTTP edge compiles it first, so a bad constraint is a 400.

#include <cstdint>
#include <string>
#include <string_view>

namespace sabre {

enum class GuidedKind : uint8_t {
  none,
  json_schema,  // text: a JSON Schema document
  json_object,  // any JSON object (text unused)
  regex,        // text: a regular expression the whole output must match
  choice,       // text: a JSON array of strings, the output is one of them
  grammar,      // text: a GBNF grammar whose rule "root" the output must match
};

struct GuidedDecoding {
  GuidedKind kind = GuidedKind::none;
  std::string text;

  bool active() const { return kind != GuidedKind::none; }
  bool operator==(const GuidedDecoding&) const = default;
};

// "json_schema", "json_object", "regex", "choice", "grammar" (or "none").
std::string_view guided_kind_name(GuidedKind kind);

}  // namespace sabre
