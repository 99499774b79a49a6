#include "config/text/read_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sabre {

std::string read_text_file(const std::filesystem::path& path) {
  // An ifstream opens a directory without complaint and reads nothing from it.
  if (std::filesystem::is_directory(path)) throw std::runtime_error(path.string() + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error(path.string() + ": cannot open for reading (" + std::strerror(errno) + ")");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw std::runtime_error(path.string() + ": read error");
  return std::move(buffer).str();
}

std::optional<std::string> read_text_file_if_exists(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  return read_text_file(path);
}

}  // namespace sabre
