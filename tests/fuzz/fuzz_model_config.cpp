// config.json as the loader reads it (parse_model_config, parse_generation_config): arbitrary text must
// be accepted or refused with std::runtime_error; nothing else may happen.
#include <cstdint>
#include <stdexcept>
#include <string_view>

#include "config/model_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    sabre::ModelConfig config = sabre::parse_model_config(text, "fuzz/config.json");
    sabre::GenerationDefaults defaults;
    try {
      defaults = sabre::parse_generation_config(text, "fuzz/generation_config.json");
    } catch (const std::runtime_error&) {
    }
    sabre::merge_eos_ids(config, defaults);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
