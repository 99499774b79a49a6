#include "model/weights/gguf_json_text.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace sabre {

void append_json_number(std::string& out, double value) {
  if (!std::isfinite(value)) {
    throw std::runtime_error(fmt::format("cannot write the non-finite number {} as JSON", value));
  }
  // fmt's shortest round-trip form; make sure integers still read as floats where the parser cares.
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".eE") == std::string::npos) text += ".0";
  out += text;
}

}  // namespace sabre
