#pragma once
// What the fuzz targets share: where their fixtures are, and a scratch file for the readers that map a
// path rather than take bytes.

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "model/weights/gguf_file.hpp"
#include "model/weights/gguf_tokenizer_json.hpp"

namespace sabre::fuzz {

// $NAME when set, else `fallback` (a path under the source tree).
inline std::filesystem::path env_path(const char* name, const std::filesystem::path& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::filesystem::path(value) : fallback;
}

inline std::filesystem::path source_dir() { return SABRE_SOURCE_DIR; }

// The tokenizer.json the tokenizer and codec targets use: $SABRE_FUZZ_TOKENIZER, else Qwen3's from the
// shared reference tokenizers, else the SmolLM2 model's, else the one inside the default GGUF that
// scripts/fetch-default-model fetches (CI has only that).
inline std::string fuzz_tokenizer_json() {
  const char* chosen = std::getenv("SABRE_FUZZ_TOKENIZER");
  for (const std::filesystem::path& candidate :
       {chosen && *chosen ? std::filesystem::path(chosen) : std::filesystem::path(),
        source_dir() / "../shared/models/tokenizers/qwen3/tokenizer.json",
        source_dir() / "models/SmolLM2-135M-bf16/tokenizer.json"}) {
    if (!candidate.empty() && std::filesystem::exists(candidate)) {
      std::ifstream in(candidate);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }
  }
  return gguf_tokenizer_json(GgufFile::open(source_dir() / "models/SmolLM2-135M-Instruct.Q4_1.gguf"));
}

// A file that holds one input at a time, named per process so that parallel jobs do not share it;
// removed at exit.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& suffix)
      : path_(std::filesystem::temp_directory_path() /
              ("sabre-fuzz-" + std::to_string(::getpid()) + suffix)) {}
  ~ScratchFile() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  const std::filesystem::path& write(const uint8_t* data, size_t size) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path_;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace sabre::fuzz
