// open_checkpoint: decides from what is on disk whether a model path is a Hugging Face directory or a
// single GGUF file, so that every program accepts both with one --model flag.

#include "model/checkpoint.hpp"

#include <array>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

namespace sabre {
namespace {

// GGUF files start with the four bytes "GGUF" (little-endian magic 0x46554747).
bool has_gguf_magic(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::array<char, 4> magic{};
  if (!in.read(magic.data(), magic.size())) return false;
  return std::memcmp(magic.data(), "GGUF", 4) == 0;
}

}  // namespace

Checkpoint open_checkpoint(const std::filesystem::path& path, LoadFormat format) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    throw std::runtime_error(fmt::format(
        "model path '{}' does not exist (expected a Hugging Face model directory or a .gguf file)",
        path.string()));
  }
  if (std::filesystem::is_directory(status)) return open_hf_checkpoint(path, format);
  if (format == LoadFormat::dummy) {
    throw std::runtime_error(fmt::format(
        "--load-format dummy: '{}' is not a Hugging Face model directory (random weights need its config.json)",
        path.string()));
  }
  if (std::filesystem::is_regular_file(status)) {
    if (has_gguf_magic(path)) return open_gguf_checkpoint(path);
    throw std::runtime_error(fmt::format(
        "model path '{}' is a file without the GGUF magic bytes \"GGUF\" (expected a Hugging Face model "
        "directory with config.json, or a .gguf file)",
        path.string()));
  }
  throw std::runtime_error(fmt::format(
      "model path '{}' is neither a directory nor a regular file (expected a Hugging Face model "
      "directory or a .gguf file)",
      path.string()));
}

}  // namespace sabre
