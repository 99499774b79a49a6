// Parsing of the GGUF container: header, metadata key/values, tensor infos, data section. Every read goes
// through ByteCursor, which refuses to step past the end of the mapping, so a truncated or corrupt file
// produces an error naming what was being read instead of reading out of bounds.

#include "model/weights/gguf_file.hpp"

#include <cerrno>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "model/weights/gguf_dequant.hpp"
#include "model/weights/mapped_file.hpp"

namespace sabre {
namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint64_t kDefaultAlignment = 32;
constexpr size_t kMaxDims = 4;             // GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 8;        // arrays of arrays are legal; unbounded nesting is not

// The file mapped read-only (model/weights/mapped_file.hpp), with the error saying it is a GGUF file.
MappedFile map_gguf(const std::filesystem::path& path) {
  try {
    return MappedFile(path);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(fmt::format("cannot open GGUF file '{}': {}", path.string(), e.what()));
  }
}

class ByteCursor {
 public:
  ByteCursor(std::span<const std::byte> bytes, const std::filesystem::path& path)
      : bytes_(bytes), path_(path) {}

  uint64_t position() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  void require(uint64_t count, std::string_view what) const {
    if (count > remaining()) {
      throw std::runtime_error(fmt::format(
          "GGUF file '{}' is truncated: reading {} needs {} bytes at offset {}, but the file has {} bytes",
          path_.string(), what, count, pos_, bytes_.size()));
    }
  }

  template <class T>
  T read(std::string_view what) {
    require(sizeof(T), what);
    T value;
    std::memcpy(&value, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }

  std::string read_string(std::string_view what) {
    const auto length = read<uint64_t>(what);
    require(length, what);
    std::string text(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return text;
  }

 private:
  std::span<const std::byte> bytes_;
  const std::filesystem::path& path_;
  uint64_t pos_ = 0;
};

// The smallest number of bytes one element of a value type occupies on disk; used to refuse array counts
// that cannot fit in what is left of the file before allocating for them.
uint64_t min_encoded_size(GgufValueType type) {
  switch (type) {
    case GgufValueType::uint8:
    case GgufValueType::int8:
    case GgufValueType::boolean: return 1;
    case GgufValueType::uint16:
    case GgufValueType::int16: return 2;
    case GgufValueType::uint32:
    case GgufValueType::int32:
    case GgufValueType::float32: return 4;
    case GgufValueType::uint64:
    case GgufValueType::int64:
    case GgufValueType::float64:
    case GgufValueType::string: return 8;            // the length prefix
    case GgufValueType::array: return 4 + 8;         // element type and count
  }
  return 1;
}

bool known_value_type(uint32_t raw) { return raw <= static_cast<uint32_t>(GgufValueType::float64); }

GgufValue read_value(ByteCursor& in, GgufValueType type, const std::string& key,
                     const std::filesystem::path& path, int depth) {
  GgufValue value;
  value.type = type;
  const std::string what = fmt::format("the value of metadata key '{}'", key);
  switch (type) {
    case GgufValueType::uint8: value.data = uint64_t{in.read<uint8_t>(what)}; break;
    case GgufValueType::int8: value.data = int64_t{in.read<int8_t>(what)}; break;
    case GgufValueType::uint16: value.data = uint64_t{in.read<uint16_t>(what)}; break;
    case GgufValueType::int16: value.data = int64_t{in.read<int16_t>(what)}; break;
    case GgufValueType::uint32: value.data = uint64_t{in.read<uint32_t>(what)}; break;
    case GgufValueType::int32: value.data = int64_t{in.read<int32_t>(what)}; break;
    case GgufValueType::uint64: value.data = in.read<uint64_t>(what); break;
    case GgufValueType::int64: value.data = in.read<int64_t>(what); break;
    case GgufValueType::float32: value.data = double{in.read<float>(what)}; break;
    case GgufValueType::float64: value.data = in.read<double>(what); break;
    case GgufValueType::boolean: {
      const auto byte = in.read<uint8_t>(what);
      if (byte > 1) {
        throw std::runtime_error(fmt::format(
            "GGUF file '{}': metadata key '{}' is a bool with byte value {} (expected 0 or 1)",
            path.string(), key, byte));
      }
      value.data = byte == 1;
      break;
    }
    case GgufValueType::string: value.data = in.read_string(what); break;
    case GgufValueType::array: {
      if (depth >= kMaxArrayNesting) {
        throw std::runtime_error(fmt::format(
            "GGUF file '{}': metadata key '{}' nests arrays deeper than {} levels", path.string(), key,
            kMaxArrayNesting));
      }
      const auto raw_element = in.read<uint32_t>(what);
      if (!known_value_type(raw_element)) {
        throw std::runtime_error(fmt::format(
            "GGUF file '{}': metadata key '{}' is an array of unknown value type {} (expected 0..12)",
            path.string(), key, raw_element));
      }
      value.element_type = static_cast<GgufValueType>(raw_element);
      const auto count = in.read<uint64_t>(what);
      if (count > in.remaining() / min_encoded_size(value.element_type)) {
        throw std::runtime_error(fmt::format(
            "GGUF file '{}' is truncated or corrupt: metadata key '{}' claims {} array elements of type "
            "{}, more than the {} bytes left can hold",
            path.string(), key, count, gguf_value_type_name(value.element_type), in.remaining()));
      }
      std::vector<GgufValue> items;
      items.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        items.push_back(read_value(in, value.element_type, key, path, depth + 1));
      }
      value.data = std::move(items);
      break;
    }
    default:
      throw std::runtime_error(fmt::format("GGUF file '{}': metadata key '{}' has unknown value type {}",
                                           path.string(), key, static_cast<uint32_t>(type)));
  }
  return value;
}

std::string describe_value_type(const GgufValue& value) {
  if (value.type == GgufValueType::array) {
    return fmt::format("array of {}", gguf_value_type_name(value.element_type));
  }
  return gguf_value_type_name(value.type);
}

}  // namespace

std::vector<int64_t> GgufTensorInfo::torch_shape() const {
  return std::vector<int64_t>(dims.rbegin(), dims.rend());
}

struct GgufFile::Impl {
  std::filesystem::path path;
  MappedFile mapping;
  uint32_t version = 0;
  uint64_t alignment = kDefaultAlignment;
  uint64_t data_offset = 0;
  std::map<std::string, GgufValue, std::less<>> metadata;
  std::vector<GgufTensorInfo> tensors;
  std::map<std::string, size_t, std::less<>> tensor_index;

  explicit Impl(const std::filesystem::path& p) : path(p), mapping(map_gguf(p)) {}

  const GgufValue& require(std::string_view key) const {
    auto it = metadata.find(key);
    if (it == metadata.end()) {
      throw std::runtime_error(
          fmt::format("GGUF file '{}' has no metadata key '{}'", path.string(), key));
    }
    return it->second;
  }

  [[noreturn]] void wrong_type(std::string_view key, const GgufValue& value,
                               std::string_view expected) const {
    throw std::runtime_error(fmt::format("GGUF file '{}': metadata key '{}' is {}, expected {}",
                                         path.string(), key, describe_value_type(value), expected));
  }

  void parse();
  void parse_tensor_infos(ByteCursor& in, uint64_t tensor_count);
};

void GgufFile::Impl::parse() {
  ByteCursor in(mapping.bytes(), path);
  const auto magic = in.read<uint32_t>("the magic number");
  if (magic != kGgufMagic) {
    throw std::runtime_error(fmt::format(
        "'{}' is not a GGUF file: its first four bytes are 0x{:08x}, expected the magic \"GGUF\"",
        path.string(), magic));
  }
  version = in.read<uint32_t>("the version");
  if (const uint32_t swapped = __builtin_bswap32(version); swapped == 2 || swapped == 3) {
    throw std::runtime_error(fmt::format(
        "GGUF file '{}' is big-endian (version {} byte-swapped); only little-endian GGUF files are supported",
        path.string(), swapped));
  }
  if (version != 2 && version != 3) {
    throw std::runtime_error(fmt::format(
        "GGUF file '{}' has version {}; only versions 2 and 3 are supported", path.string(), version));
  }
  const auto tensor_count = in.read<uint64_t>("the tensor count");
  const auto kv_count = in.read<uint64_t>("the metadata count");
  // Each key/value needs at least a length prefix, a type and one byte of value.
  if (kv_count > in.remaining() / (8 + 4 + 1)) {
    throw std::runtime_error(fmt::format(
        "GGUF file '{}' is truncated or corrupt: header claims {} metadata entries, more than the {} "
        "bytes left can hold",
        path.string(), kv_count, in.remaining()));
  }
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = in.read_string(fmt::format("the key of metadata entry {}", i));
    const auto raw_type = in.read<uint32_t>(fmt::format("the value type of metadata key '{}'", key));
    if (!known_value_type(raw_type)) {
      throw std::runtime_error(fmt::format(
          "GGUF file '{}': metadata key '{}' has unknown value type {} (expected 0..12)", path.string(),
          key, raw_type));
    }
    GgufValue value = read_value(in, static_cast<GgufValueType>(raw_type), key, path, 0);
    if (metadata.contains(key)) {
      throw std::runtime_error(
          fmt::format("GGUF file '{}' repeats metadata key '{}'", path.string(), key));
    }
    metadata.emplace(std::move(key), std::move(value));
  }

  if (auto it = metadata.find("general.alignment"); it != metadata.end()) {
    const auto* a = std::get_if<uint64_t>(&it->second.data);
    if (a == nullptr || *a == 0 || (*a & (*a - 1)) != 0) {
      throw std::runtime_error(fmt::format(
          "GGUF file '{}': general.alignment must be a power-of-two unsigned integer", path.string()));
    }
    alignment = *a;
  }

  parse_tensor_infos(in, tensor_count);
}

void GgufFile::Impl::parse_tensor_infos(ByteCursor& in, uint64_t tensor_count) {
  // name length + n_dims + type + offset, at the least.
  if (tensor_count > in.remaining() / (8 + 4 + 4 + 8)) {
    throw std::runtime_error(fmt::format(
        "GGUF file '{}' is truncated or corrupt: header claims {} tensors, more than the {} bytes left "
        "can describe",
        path.string(), tensor_count, in.remaining()));
  }
  tensors.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo t;
    t.name = in.read_string(fmt::format("the name of tensor {}", i));
    const std::string what = fmt::format("the description of tensor '{}'", t.name);
    const auto n_dims = in.read<uint32_t>(what);
    if (n_dims == 0 || n_dims > kMaxDims) {
      throw std::runtime_error(fmt::format("GGUF file '{}': tensor '{}' has {} dimensions (expected 1..{})",
                                           path.string(), t.name, n_dims, kMaxDims));
    }
    t.element_count = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto dim = in.read<uint64_t>(what);
      if (dim == 0 || dim > (uint64_t{1} << 40) ||
          t.element_count > std::numeric_limits<uint64_t>::max() / dim) {
        throw std::runtime_error(fmt::format("GGUF file '{}': tensor '{}' has an invalid dimension {}",
                                             path.string(), t.name, dim));
      }
      t.dims.push_back(dim);
      t.element_count *= dim;
    }
    t.raw_type = in.read<uint32_t>(what);
    t.offset = in.read<uint64_t>(what);
    const auto layout = ggml_block_layout(t.raw_type);
    if (!layout) {
      throw std::runtime_error(fmt::format("GGUF file '{}': tensor '{}' has unknown ggml type {}",
                                           path.string(), t.name, t.raw_type));
    }
    if (t.dims[0] % layout->elements_per_block != 0) {
      throw std::runtime_error(fmt::format(
          "GGUF file '{}': tensor '{}' of type {} has rows of {} elements, not a multiple of the block "
          "size {}",
          path.string(), t.name, ggml_type_name(t.raw_type), t.dims[0], layout->elements_per_block));
    }
    t.byte_count = t.element_count / layout->elements_per_block * layout->bytes_per_block;
    if (t.offset % alignment != 0) {
      throw std::runtime_error(fmt::format(
          "GGUF file '{}': tensor '{}' starts at data offset {}, not a multiple of the alignment {}",
          path.string(), t.name, t.offset, alignment));
    }
    if (tensor_index.contains(t.name)) {
      throw std::runtime_error(
          fmt::format("GGUF file '{}' repeats tensor '{}'", path.string(), t.name));
    }
    tensor_index.emplace(t.name, tensors.size());
    tensors.push_back(std::move(t));
  }

  data_offset = (in.position() + alignment - 1) / alignment * alignment;
  const uint64_t file_size = mapping.bytes().size();
  for (auto& t : tensors) {
    const uint64_t begin = data_offset + t.offset;
    if (begin < data_offset || begin > file_size || t.byte_count > file_size - begin) {
      throw std::runtime_error(fmt::format(
          "GGUF file '{}': tensor '{}' ({} {}, {} bytes) lies at file offset {}..{}, beyond the end of "
          "the file ({} bytes); the file is truncated or corrupt",
          path.string(), t.name, ggml_type_name(t.raw_type), fmt::join(t.torch_shape(), "x"),
          t.byte_count, begin, begin + t.byte_count, file_size));
    }
    t.bytes = mapping.bytes().subspan(begin, t.byte_count);
  }
}

GgufFile GgufFile::open(const std::filesystem::path& path) {
  auto impl = std::make_unique<Impl>(path);
  impl->parse();
  return GgufFile(std::move(impl));
}

GgufFile::GgufFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;
GgufFile::~GgufFile() = default;

const std::filesystem::path& GgufFile::path() const { return impl_->path; }
void GgufFile::drop_pages(std::span<const std::byte> range) const { impl_->mapping.drop_pages(range); }
uint32_t GgufFile::version() const { return impl_->version; }
uint64_t GgufFile::alignment() const { return impl_->alignment; }
uint64_t GgufFile::data_offset() const { return impl_->data_offset; }
const std::map<std::string, GgufValue, std::less<>>& GgufFile::metadata() const {
  return impl_->metadata;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = impl_->metadata.find(key);
  return it == impl_->metadata.end() ? nullptr : &it->second;
}

uint64_t GgufFile::get_uint(std::string_view key) const {
  const auto& v = impl_->require(key);
  if (const auto* u = std::get_if<uint64_t>(&v.data)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v.data); i != nullptr && *i >= 0) {
    return static_cast<uint64_t>(*i);
  }
  impl_->wrong_type(key, v, "a non-negative integer");
}

int64_t GgufFile::get_int(std::string_view key) const {
  const auto& v = impl_->require(key);
  if (const auto* i = std::get_if<int64_t>(&v.data)) return *i;
  if (const auto* u = std::get_if<uint64_t>(&v.data);
      u != nullptr && *u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(*u);
  }
  impl_->wrong_type(key, v, "an integer");
}

double GgufFile::get_float(std::string_view key) const {
  const auto& v = impl_->require(key);
  if (const auto* f = std::get_if<double>(&v.data)) return *f;
  if (const auto* u = std::get_if<uint64_t>(&v.data)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&v.data)) return static_cast<double>(*i);
  impl_->wrong_type(key, v, "a number");
}

bool GgufFile::get_bool(std::string_view key) const {
  const auto& v = impl_->require(key);
  if (const auto* b = std::get_if<bool>(&v.data)) return *b;
  impl_->wrong_type(key, v, "a bool");
}

const std::string& GgufFile::get_string(std::string_view key) const {
  const auto& v = impl_->require(key);
  if (const auto* s = std::get_if<std::string>(&v.data)) return *s;
  impl_->wrong_type(key, v, "a string");
}

std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  const auto& v = impl_->require(key);
  const auto* items = std::get_if<std::vector<GgufValue>>(&v.data);
  if (items == nullptr || v.element_type != GgufValueType::string) {
    impl_->wrong_type(key, v, "an array of string");
  }
  std::vector<std::string> out;
  out.reserve(items->size());
  for (const auto& item : *items) out.push_back(std::get<std::string>(item.data));
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  const auto& v = impl_->require(key);
  const auto* items = std::get_if<std::vector<GgufValue>>(&v.data);
  if (items == nullptr) impl_->wrong_type(key, v, "an array of integers");
  std::vector<int64_t> out;
  out.reserve(items->size());
  for (const auto& item : *items) {
    if (const auto* i = std::get_if<int64_t>(&item.data)) {
      out.push_back(*i);
    } else if (const auto* u = std::get_if<uint64_t>(&item.data);
               u != nullptr && *u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      out.push_back(static_cast<int64_t>(*u));
    } else {
      impl_->wrong_type(key, v, "an array of integers");
    }
  }
  return out;
}

std::vector<double> GgufFile::get_float_array(std::string_view key) const {
  const auto& v = impl_->require(key);
  const auto* items = std::get_if<std::vector<GgufValue>>(&v.data);
  if (items == nullptr) impl_->wrong_type(key, v, "an array of numbers");
  std::vector<double> out;
  out.reserve(items->size());
  for (const auto& item : *items) {
    if (const auto* f = std::get_if<double>(&item.data)) {
      out.push_back(*f);
    } else if (const auto* i = std::get_if<int64_t>(&item.data)) {
      out.push_back(static_cast<double>(*i));
    } else if (const auto* u = std::get_if<uint64_t>(&item.data)) {
      out.push_back(static_cast<double>(*u));
    } else {
      impl_->wrong_type(key, v, "an array of numbers");
    }
  }
  return out;
}

const std::vector<GgufTensorInfo>& GgufFile::tensors() const { return impl_->tensors; }

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = impl_->tensor_index.find(name);
  return it == impl_->tensor_index.end() ? nullptr : &impl_->tensors[it->second];
}

std::vector<float> GgufFile::tensor_to_f32(const GgufTensorInfo& tensor) const {
  if (!ggml_type_dequantizable(tensor.raw_type)) {
    throw std::runtime_error(fmt::format(
        "GGUF file '{}': tensor '{}' has type {}, which Sabre cannot dequantise (supported: F32, F16, "
        "BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)",
        impl_->path.string(), tensor.name, ggml_type_name(tensor.raw_type)));
  }
  std::vector<float> out(tensor.element_count);
  dequantize_ggml(static_cast<GgmlType>(tensor.raw_type), tensor.bytes, out);
  return out;
}

}  // namespace sabre
