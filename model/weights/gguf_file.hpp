#pragma once
// A GGUF file (llama.cpp's single-file checkpoint format, versions 2 and 3), memory-mapped read-only.
// Opening parses and bounds-checks the header, every metadata value and every tensor description, so that
// later accessors can hand out views without further checks. Errors name the file, the key or tensor and
// what was expected.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "model/weights/gguf_types.hpp"

namespace sabre {

// One metadata value. Integers are widened (unsigned to uint64_t, signed to int64_t), floats to double;
// `type` keeps the stored type. Arrays hold their elements, all of `element_type`.
struct GgufValue {
  GgufValueType type = GgufValueType::uint8;
  GgufValueType element_type = GgufValueType::uint8;  // arrays only
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<GgufValue>> data;
};

struct GgufTensorInfo {
  std::string name;
  uint32_t raw_type = 0;       // a GgmlType value (kept raw so unknown types can be named in errors)
  std::vector<uint64_t> dims;  // ggml order: dims[0] is the innermost (contiguous) dimension
  uint64_t offset = 0;         // from the start of the data section
  uint64_t element_count = 0;
  uint64_t byte_count = 0;
  std::span<const std::byte> bytes;  // inside the mapping

  // The shape in row-major (PyTorch / Hugging Face) order: reversed dims.
  std::vector<int64_t> torch_shape() const;
};

class GgufFile {
 public:
  // Maps and parses the file. Throws std::runtime_error for a missing file, bad magic, an unsupported
  // version, truncation, an unknown value type, a tensor whose data lies outside the file, etc.
  static GgufFile open(const std::filesystem::path& path);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::filesystem::path& path() const;
  uint32_t version() const;
  uint64_t alignment() const;
  uint64_t data_offset() const;  // where the tensor data section starts in the file

  const std::map<std::string, GgufValue, std::less<>>& metadata() const;
  const GgufValue* find(std::string_view key) const;
  bool contains(std::string_view key) const { return find(key) != nullptr; }

  // Typed accessors; each throws naming the file and key when the key is missing or of another type.
  // get_uint accepts any integer type with a non-negative value; get_float any integer or float type.
  uint64_t get_uint(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  std::vector<double> get_float_array(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const;
  const GgufTensorInfo* find_tensor(std::string_view name) const;

  // The tensor converted to fp32 (row-major, torch_shape()); throws naming the tensor for a type that
  // cannot be dequantised.
  std::vector<float> tensor_to_f32(const GgufTensorInfo& tensor) const;

  // MappedFile::drop_pages on the file's mapping.
  void drop_pages(std::span<const std::byte> range) const;

 private:
  struct Impl;
  explicit GgufFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sabre
