#pragma once
// Whole-file reads of the small text files a model ships (config.json, tokenizer.json, templates).

#include <filesystem>
#include <optional>
#include <string>

namespace sabre {

// The file's bytes. Throws std::runtime_error "PATH: cannot open for reading (reason)", "PATH: is a
// directory, expected a file" or "PATH: read error".
std::string read_text_file(const std::filesystem::path& path);

// nullopt when the file does not exist; otherwise as read_text_file.
std::optional<std::string> read_text_file_if_exists(const std::filesystem::path& path);

}  // namespace sabre
