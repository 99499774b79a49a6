#include "config/engine_options.hpp"

#include <cctype>
#include <string>

namespace sabre {

std::string_view gguf_weights_name(GgufWeights mode) { return mode == GgufWeights::quantized ? "quantized" : "f32"; }

std::string_view model_dtype_name(ModelDtype dtype) {
  switch (dtype) {
    case ModelDtype::automatic: return "auto";
    case ModelDtype::bfloat16: return "bfloat16";
    case ModelDtype::float16: return "float16";
    case ModelDtype::float32: return "float32";
  }
  return "unknown";
}

std::optional<ModelDtype> parse_model_dtype(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "auto") return ModelDtype::automatic;
  if (lower == "bfloat16" || lower == "bf16") return ModelDtype::bfloat16;
  if (lower == "float16" || lower == "half" || lower == "fp16") return ModelDtype::float16;
  if (lower == "float32" || lower == "float" || lower == "fp32") return ModelDtype::float32;
  return std::nullopt;
}

}  // namespace sabre
