// open_hf_checkpoint: a Hugging Face model directory (config.json, generation_config.json, safetensors,
// tokenizer.json, tokenizer_config.json) as one Checkpoint.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "config/quantization_config.hpp"
#include "model/checkpoint.hpp"
#include "model/dummy_weights.hpp"
#include "model/weights/quantized_matrices.hpp"
#include "model/weights/quantized_source.hpp"
#include "model/weights/safetensors.hpp"
#include "config/text/read_file.hpp"

namespace sabre {
namespace {

// "" when the file does not exist: tokenizer files are optional for a checkpoint (the caller may give
// --tokenizer DIR or use ids directly).
std::string read_optional_text(const std::filesystem::path& path) { return read_text_file_if_exists(path).value_or(""); }

// A checkpoint whose tensors include a quantised layer's parts (qweight, weight_packed, scales, ...)
// while config.json has no quantization_config: its layers would otherwise be reported missing one by one.
void refuse_unannounced_quantization(const WeightSource& weights, const std::filesystem::path& dir) {
  for (const std::string& name : weights.names()) {
    if (!is_quantization_part(name)) continue;
    throw std::runtime_error(fmt::format(
        "{}: tensor '{}' is part of a quantised layer, but config.json has no quantization_config (and there is "
        "no quantize_config.json): the checkpoint's quantisation method is not said",
        dir.string(), name));
  }
}

}  // namespace

Checkpoint open_hf_checkpoint(const std::filesystem::path& dir, LoadFormat format) {
  if (!std::filesystem::is_directory(dir)) {
    throw std::runtime_error(fmt::format("{}: not a model directory", dir.string()));
  }
  Checkpoint checkpoint;
  checkpoint.path = dir;
  checkpoint.config = load_model_config(dir);  // already holds generation_config's eos ids too
  checkpoint.generation = load_generation_defaults(dir);
  if (format == LoadFormat::dummy) {
    checkpoint.weights = make_dummy_weights(checkpoint.config);
  } else if (auto quantization = load_quantization_config(dir)) {
    // Checked before the files are opened, so that an unsupported quantisation is named for what it is.
    check_supported_quantization(*quantization, dir.string());
    checkpoint.weights = std::make_unique<QuantizedSource>(SafetensorsSource::open_directory(dir), std::move(*quantization));
  } else {
    checkpoint.weights = SafetensorsSource::open_directory(dir);
    refuse_unannounced_quantization(*checkpoint.weights, dir);
  }
  checkpoint.tokenizer_json = read_optional_text(dir / "tokenizer.json");
  checkpoint.tokenizer_config_json = read_optional_text(dir / "tokenizer_config.json");
  checkpoint.chat_template_jinja = read_optional_text(dir / "chat_template.jinja");
  spdlog::debug("opened {}: {} with {} tensors from {}", dir.string(), architecture_name(checkpoint.config.architecture),
                checkpoint.weights->names().size(), checkpoint.weights->description());
  return checkpoint;
}

}  // namespace sabre
