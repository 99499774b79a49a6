// The functions every chat template can call: jinja2's range/dict/namespace and the raise_exception
// and strftime_now helpers transformers adds.

#include <ctime>
#include <memory>

#include "model/chat/builtins.hpp"
#include "model/chat/error.hpp"
#include "model/chat/operations.hpp"
#include "model/chat/value_format.hpp"

namespace sabre::chat {

namespace {

// jinja2's sandbox refuses ranges longer than this.
constexpr int64_t kMaxRange = 100000;

int64_t range_bound(const Value& v) {
  if (!v.is_int() && !v.is_bool()) {
    throw TemplateError("'" + v.type_name() + "' object cannot be interpreted as an integer");
  }
  return v.as_int();
}

Value range(CallArgs& args) {
  args.expect_at_most(3, {});
  int64_t start = 0, stop = 0, step = 1;
  if (args.positional.size() == 1) {
    stop = range_bound(args.positional[0]);
  } else if (args.positional.size() >= 2) {
    start = range_bound(args.positional[0]);
    stop = range_bound(args.positional[1]);
    if (args.positional.size() == 3) step = range_bound(args.positional[2]);
  } else {
    throw TemplateError("range expected at least 1 argument, got 0");
  }
  if (step == 0) throw TemplateError("range() arg 3 must not be zero");
  Array out;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (static_cast<int64_t>(out.size()) >= kMaxRange) {
      throw TemplateError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    }
    out.emplace_back(i);
  }
  return Value(std::move(out));
}

// dict(mapping or pairs, **kwargs) and namespace(...) take the same arguments.
Object dict_from_args(CallArgs& args) {
  Object out;
  if (args.positional.size() > 1) throw TemplateError("dict expected at most 1 argument, got " + std::to_string(args.positional.size()));
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_object() || source.is_namespace()) {
      for (const auto& [k, v] : source.as_object().entries()) out.set(k, v);
    } else {
      for (const Value& pair : iterate(source)) {
        if (!pair.is_sequence() || pair.as_array().size() != 2) {
          throw TemplateError("dictionary update sequence element must be a (key, value) pair");
        }
        out.set(dict_key(pair.as_array()[0]), pair.as_array()[1]);
      }
    }
  }
  for (const auto& [k, v] : args.keyword) out.set(k, v);
  return out;
}

}  // namespace

Object make_globals() {
  Object globals;
  globals.set("range", Value::callable("range", &range));
  globals.set("dict", Value::callable("dict", [](CallArgs& args) { return Value(dict_from_args(args)); }));
  globals.set("namespace", Value::callable("namespace", [](CallArgs& args) {
                Object attributes = dict_from_args(args);
                for (const auto& [k, v] : attributes.entries()) {
                  if (!k.empty() && k[0] == '_') {
                    throw TemplateError("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '" + k + "'.");
                  }
                }
                return Value::namespace_(std::move(attributes));
              }));
  globals.set("joiner", Value::callable("joiner", [](CallArgs& args) {
                args.expect_at_most(1, {"sep"});
                const std::string separator = to_python_str(args.get_or(0, "sep", Value(", ")));
                auto used = std::make_shared<bool>(false);
                return Value::callable("joiner", [separator, used](CallArgs&) {
                  if (!*used) {
                    *used = true;
                    return Value("");
                  }
                  return Value(separator);
                });
              }));
  globals.set("cycler", Value::callable("cycler", [](CallArgs& args) {
                // A namespace with next() and reset(); `current` is not offered (it would change under it).
                if (args.positional.empty()) throw TemplateError("at least one item has to be provided");
                struct State {
                  Array items;
                  size_t position = 0;
                };
                auto state = std::make_shared<State>(State{args.positional, 0});
                Object methods;
                methods.set("next", Value::callable("next", [state](CallArgs&) {
                              Value v = state->items[state->position];
                              state->position = (state->position + 1) % state->items.size();
                              return v;
                            }));
                methods.set("reset", Value::callable("reset", [state](CallArgs&) {
                              state->position = 0;
                              return Value(nullptr);
                            }));
                return Value::namespace_(std::move(methods));
              }));
  globals.set("lipsum", Value::callable("lipsum", [](CallArgs&) -> Value {
                throw TemplateError("lipsum() (random placeholder text) is not supported");
              }));
  globals.set("raise_exception", Value::callable("raise_exception", [](CallArgs& args) -> Value {
                throw TemplateError(to_python_str(args.get_or(0, "message", Value(""))));
              }));
  globals.set("strftime_now", Value::callable("strftime_now", [](CallArgs& args) {
                args.expect_at_most(1, {"format"});
                const std::string format = to_python_str(args.get_or(0, "format", Value("")));
                const std::time_t now = std::time(nullptr);
                std::tm local{};
                localtime_r(&now, &local);
                char buf[512];
                const size_t n = std::strftime(buf, sizeof buf, format.c_str(), &local);
                return Value(std::string(buf, n));
              }));
  return globals;
}

}  // namespace sabre::chat
