#pragma once
// A read-only memory mapping of a whole file, unmapped when the object dies. Checkpoint files are viewed
// in place through it, so opening a multi-gigabyte model costs no copy until a tensor is converted.

#include <cstddef>
#include <filesystem>
#include <span>

namespace sabre {

class MappedFile {
 public:
  // Throws std::runtime_error naming the path when it cannot be opened or mapped.
  explicit MappedFile(const std::filesystem::path& path);
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  // Lets the OS take back the pages wholly inside `range` (a part of bytes()): a loader that has copied
  // a tensor elsewhere calls it so that the file's pages and the copy are not resident together. Reading
  // the range again faults the pages back in from the file. Ranges outside the mapping are ignored.
  void drop_pages(std::span<const std::byte> range) const;
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void release() noexcept;

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sabre
