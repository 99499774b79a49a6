// The safetensors reader on arbitrary files: the header (its length, JSON, dtypes, shapes and offsets)
// is validated when the file is opened; a file must open or throw std::runtime_error. Crashes, sanitizer
// reports or other exceptions are findings.
#include <cstdint>
#include <stdexcept>

#include "fuzz_support.hpp"
#include "model/weights/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static sabre::fuzz::ScratchFile scratch(".safetensors");
  const auto& path = scratch.write(data, size);
  try {
    const auto source = sabre::SafetensorsSource::open_file(path);
    for (const std::string& name : source->names()) (void)source->find(name);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
