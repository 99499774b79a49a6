#include "config/engine_options.hpp"

#include <cctype>
#include <string>

namespace sabre {

std::string_view gguf_weights_name(GgufWeights mode) { return mode == GgufWeights::quantized ? "quantized" : "f32"; }

std::string_view load_format_name(LoadFormat format) { return format == LoadFormat::dummy ? "dummy" : "auto"; }

std::optional<LoadFormat> parse_load_format(std::string_view text) {
  if (text == "auto") return LoadFormat::automatic;
  if (text == "dummy") return LoadFormat::dummy;
  return std::nullopt;
}

std::string_view model_dtype_name(ModelDtype dtype) {
  switch (dtype) {
    case ModelDtype::automatic: return "auto";
    case ModelDtype::bfloat16: return "bfloat16";
    case ModelDtype::float16: return "float16";
    case ModelDtype::float32: return "float32";
  }
  return "unknown";
}

namespace {

std::string lowercase(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

}  // namespace

std::string_view kv_cache_dtype_name(KvCacheDtype dtype) {
  switch (dtype) {
    case KvCacheDtype::automatic: return "auto";
    case KvCacheDtype::bfloat16: return "bfloat16";
    case KvCacheDtype::float16: return "float16";
    case KvCacheDtype::fp8_e4m3: return "fp8_e4m3";
    case KvCacheDtype::int8: return "int8";
  }
  return "unknown";
}

std::optional<KvCacheDtype> parse_kv_cache_dtype(std::string_view text) {
  const std::string lower = lowercase(text);
  if (lower == "auto") return KvCacheDtype::automatic;
  if (lower == "bfloat16" || lower == "bf16") return KvCacheDtype::bfloat16;
  if (lower == "float16" || lower == "fp16" || lower == "half") return KvCacheDtype::float16;
  if (lower == "fp8_e4m3" || lower == "fp8" || lower == "fp8_e4m3fn") return KvCacheDtype::fp8_e4m3;
  if (lower == "int8") return KvCacheDtype::int8;
  return std::nullopt;
}

std::optional<ModelDtype> parse_model_dtype(std::string_view text) {
  const std::string lower = lowercase(text);
  if (lower == "auto") return ModelDtype::automatic;
  if (lower == "bfloat16" || lower == "bf16") return ModelDtype::bfloat16;
  if (lower == "float16" || lower == "half" || lower == "fp16") return ModelDtype::float16;
  if (lower == "float32" || lower == "float" || lower == "fp32") return ModelDtype::float32;
  return std::nullopt;
}

}  // namespace sabre
