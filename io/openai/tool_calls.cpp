#include "io/openai/tool_calls.hpp"

#include <fmt/format.h>
#include <simdjson.h>

#include <iterator>
#include <random>
#include <utility>

#include "config/text/json_writer.hpp"

namespace sabre::openai {
namespace {

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kPythonTag = "<|python_tag|>";

std::string call_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("call_{:016x}{:08x}", rng(), static_cast<uint32_t>(rng()));
}

std::string_view trimmed(std::string_view s) {
  const size_t start = s.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return s.substr(s.size());  // empty, but still pointing into s
  const size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(start, end - start + 1);
}

// A call object {"name": ..., <arguments_key>: {...} or "..."}; nullopt when it is not one.
std::optional<ToolCall> call_from_json(std::string_view json, std::initializer_list<std::string_view> argument_keys) {
  if (json.empty()) return std::nullopt;  // simdjson copies from data(), which an empty view may leave null
  simdjson::dom::parser parser;
  simdjson::dom::object object;
  if (parser.parse(json.data(), json.size()).get(object)) return std::nullopt;
  std::string_view name;
  if (object["name"].get(name)) return std::nullopt;
  for (std::string_view key : argument_keys) {
    simdjson::dom::element arguments;
    if (object[key].get(arguments)) continue;
    if (arguments.is_object()) return ToolCall{call_id(), std::string(name), simdjson::minify(arguments)};
    std::string_view text;  // arguments written as a string holding JSON
    if (!arguments.get(text)) {
      simdjson::dom::parser inner;
      simdjson::dom::object parsed;
      if (!inner.parse(text.data(), text.size()).get(parsed)) {
        return ToolCall{call_id(), std::string(name), simdjson::minify(parsed)};
      }
    }
    return std::nullopt;
  }
  return std::nullopt;  // without arguments it is some other JSON object ({"name": "Alice", ...})
}

// The JSON values of `text` one after another, separated by whitespace or ';' (Llama's parallel calls).
std::optional<std::vector<std::string_view>> json_values(std::string_view text) {
  std::vector<std::string_view> values;
  size_t i = 0;
  while (true) {
    while (i < text.size() && std::string_view(" \n\t\r;").find(text[i]) != std::string_view::npos) ++i;
    if (i == text.size()) return values;
    if (text[i] != '{') return std::nullopt;
    int depth = 0;
    bool in_string = false;
    size_t j = i;
    for (; j < text.size(); ++j) {
      const char c = text[j];
      if (in_string) {
        if (c == '\\') ++j;  // skips the escaped character (the loop's bound still holds)
        else if (c == '"') in_string = false;
      } else if (c == '"') {
        in_string = true;
      } else if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (--depth == 0) break;
      }
    }
    if (j >= text.size()) return std::nullopt;  // unbalanced, or a backslash at the very end
    values.push_back(text.substr(i, j - i + 1));
    i = j + 1;
  }
}

ParsedMessage as_content(std::string_view text) { return {std::string(text), {}}; }

ParsedMessage parse_hermes(std::string_view text) {
  ParsedMessage out;
  size_t at = 0;
  while (true) {
    const size_t open = text.find(kHermesOpen, at);
    if (open == std::string_view::npos) {
      out.content += text.substr(at);
      break;
    }
    out.content += text.substr(at, open - at);
    const size_t body = open + kHermesOpen.size();
    const size_t close = text.find(kHermesClose, body);
    // A last block the model ended without closing still counts when its JSON is whole.
    const size_t length = close == std::string_view::npos ? std::string_view::npos : close - body;
    const std::string_view json = trimmed(text.substr(body, length));
    auto call = call_from_json(json, {"arguments", "parameters"});
    if (!call) return as_content(text);
    out.calls.push_back(std::move(*call));
    if (close == std::string_view::npos) break;
    at = close + kHermesClose.size();
  }
  if (out.calls.empty()) return as_content(text);
  out.content = std::string(trimmed(out.content));
  return out;
}

ParsedMessage parse_llama3(std::string_view text) {
  std::string_view body = trimmed(text);
  if (body.starts_with(kPythonTag)) body = trimmed(body.substr(kPythonTag.size()));
  if (!body.starts_with('{')) return as_content(text);
  const auto values = json_values(body);
  if (!values || values->empty()) return as_content(text);
  ParsedMessage out;
  for (std::string_view value : *values) {
    auto call = call_from_json(value, {"parameters", "arguments"});
    if (!call) return as_content(text);
    out.calls.push_back(std::move(*call));
  }
  return out;
}

ParsedMessage parse_required(std::string_view text) {
  if (text.empty()) return as_content(text);
  simdjson::dom::parser parser;
  simdjson::dom::array calls;
  if (parser.parse(text.data(), text.size()).get(calls)) return as_content(text);
  ParsedMessage out;
  for (auto element : calls) {
    auto call = call_from_json(simdjson::minify(element), {"parameters"});
    if (!call) return as_content(text);
    out.calls.push_back(std::move(*call));
  }
  return out;
}

ParsedMessage parse_named(const std::string& function, std::string_view text) {
  if (text.empty()) return as_content(text);
  simdjson::dom::parser parser;
  simdjson::dom::object arguments;
  if (parser.parse(text.data(), text.size()).get(arguments)) return as_content(text);
  return {"", {ToolCall{call_id(), function, simdjson::minify(arguments)}}};
}

// The length of the longest suffix of `text` that is a proper prefix of `marker`.
size_t partial_marker(std::string_view text, std::string_view marker) {
  for (size_t n = std::min(text.size(), marker.size() - 1); n > 0; --n) {
    if (marker.starts_with(text.substr(text.size() - n))) return n;
  }
  return 0;
}

}  // namespace

std::optional<ToolCallFormat> parse_tool_call_format(std::string_view name) {
  if (name == "hermes") return ToolCallFormat::hermes;
  if (name == "llama3_json") return ToolCallFormat::llama3_json;
  if (name == "none") return ToolCallFormat::none;
  return std::nullopt;
}

ToolCallFormat tool_call_format_of_template(std::string_view source) {
  if (source.find(kHermesOpen) != std::string_view::npos) return ToolCallFormat::hermes;
  const auto has = [&](std::string_view s) { return source.find(s) != std::string_view::npos; };
  if (has(kPythonTag) || has("Environment: ipython")) {
    return ToolCallFormat::llama3_json;
  }
  return ToolCallFormat::none;
}

std::string tool_calls_json(const std::vector<ToolCall>& calls, bool with_index) {
  std::string out = "[";
  for (size_t i = 0; i < calls.size(); ++i) {
    if (i) out += ',';
    out += '{';
    if (with_index) fmt::format_to(std::back_inserter(out), "\"index\":{},", i);
    out += "\"id\":";
    append_json_string(out, calls[i].id);
    out += ",\"type\":\"function\",\"function\":{\"name\":";
    append_json_string(out, calls[i].name);
    out += ",\"arguments\":";
    append_json_string(out, calls[i].arguments);
    out += "}}";
  }
  return out + "]";
}

ParsedMessage parse_tool_calls(const ToolPlan& plan, std::string_view text) {
  switch (plan.mode) {
    case ToolPlan::Mode::none: return as_content(text);
    case ToolPlan::Mode::required: return parse_required(text);
    case ToolPlan::Mode::named: return parse_named(plan.function, text);
    case ToolPlan::Mode::parse:
      if (plan.format == ToolCallFormat::hermes) return parse_hermes(text);
      if (plan.format == ToolCallFormat::llama3_json) return parse_llama3(text);
      return as_content(text);
  }
  return as_content(text);
}

std::string ToolCallStream::push(std::string_view text) {
  if (state_ == State::plain) return std::string(text);
  held_ += text;
  if (state_ == State::holding) return "";
  const bool forced = plan_.mode == ToolPlan::Mode::required || plan_.mode == ToolPlan::Mode::named;
  if (forced) {
    state_ = State::holding;
    return "";
  }
  if (plan_.mode == ToolPlan::Mode::none || plan_.format == ToolCallFormat::none) {
    state_ = State::plain;
    return std::exchange(held_, {});
  }
  if (plan_.format == ToolCallFormat::llama3_json) {
    // A call is the whole answer: hold while the answer may still begin with one.
    const std::string_view start = trimmed(held_);
    if (start.starts_with('{') || start.starts_with(kPythonTag)) {
      state_ = State::holding;
      return "";
    }
    if (start.empty() || kPythonTag.starts_with(start)) return "";
    state_ = State::plain;
    return std::exchange(held_, {});
  }
  // hermes: text before a <tool_call> goes out; from the first one on, everything waits for the end.
  const size_t open = held_.find(kHermesOpen);
  if (open != std::string::npos) {
    std::string out = held_.substr(0, open);
    held_.erase(0, open);
    state_ = State::holding;
    return out;
  }
  const size_t keep = partial_marker(held_, kHermesOpen);
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

ParsedMessage ToolCallStream::finish() {
  const std::string rest = std::exchange(held_, {});
  if (rest.empty()) return {};
  // Held text that is no call (a partial marker, an answer that only looked like JSON) is content.
  if (state_ != State::holding) return {rest, {}};
  return parse_tool_calls(plan_, rest);
}

}  // namespace sabre::openai
