// The GGUF reader on arbitrary files: opening parses and bounds-checks the header, metadata and tensor
// table; then what the loader reads from a file that opened (the config.json and tokenizer.json built
// from its metadata, and every tensor dequantised to fp32) must succeed or throw std::runtime_error.
// Crashes, sanitizer reports, other exceptions or huge allocations are findings.
#include <cstdint>
#include <stdexcept>

#include "fuzz_support.hpp"
#include "model/weights/gguf_file.hpp"
#include "model/weights/gguf_model_config.hpp"
#include "model/weights/gguf_tokenizer_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static sabre::fuzz::ScratchFile scratch(".gguf");
  const auto& path = scratch.write(data, size);
  try {
    const sabre::GgufFile file = sabre::GgufFile::open(path);
    try {
      (void)sabre::gguf_config_json(file, file.find_tensor("output.weight") == nullptr, std::nullopt);
    } catch (const std::runtime_error&) {
    }
    try {
      (void)sabre::gguf_tokenizer_json(file);
      (void)sabre::gguf_tokenizer_config_json(file);
    } catch (const std::runtime_error&) {
    }
    for (const sabre::GgufTensorInfo& tensor : file.tensors()) {
      if (tensor.element_count > (uint64_t{1} << 20)) continue;  // large tensors only cost time here
      try {
        (void)file.tensor_to_f32(tensor);
      } catch (const std::runtime_error&) {
      }
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
