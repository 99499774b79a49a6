#include "model/weights/safetensors.hpp"

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>

#include "config/json_fields.hpp"
#include "config/text/read_file.hpp"

namespace sabre {
namespace {

std::optional<DType> parse_dtype(std::string_view name) {
  if (name == "F32") return DType::f32;
  if (name == "F16") return DType::f16;
  if (name == "BF16") return DType::bf16;
  // The integer and FP8 parts of quantised checkpoints (packed weights, zero points, g_idx, shapes).
  if (name == "I8") return DType::i8;
  if (name == "U8") return DType::u8;
  if (name == "I32") return DType::i32;
  if (name == "I64") return DType::i64;
  if (name == "F8_E4M3") return DType::f8_e4m3;
  return std::nullopt;
}

[[noreturn]] void header_error(const std::filesystem::path& path, std::string_view what) {
  throw std::runtime_error(fmt::format("{}: {}", path.string(), what));
}

// Reads one tensor entry of the header: {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]}.
TensorView parse_entry(const std::filesystem::path& path, std::string_view name,
                       simdjson::dom::element entry, std::span<const std::byte> data) {
  const std::string where = fmt::format("tensor '{}'", name);
  simdjson::dom::object object;
  if (entry.get_object().get(object)) {
    header_error(path, fmt::format("{}: header entry must be an object, found {}", where, json_type_name(entry)));
  }
  TensorView view;
  view.name = std::string(name);
  view.origin = path.string();

  std::string_view dtype_text;
  if (object["dtype"].get_string().get(dtype_text)) header_error(path, where + ": 'dtype' missing or not a string");
  auto dtype = parse_dtype(dtype_text);
  if (!dtype) {
    header_error(path, fmt::format("{}: dtype '{}' is not supported (expected F32, F16, BF16, or the I8, U8, I32, I64 "
                                   "and F8_E4M3 of quantised checkpoints)", where, dtype_text));
  }
  view.dtype = *dtype;

  simdjson::dom::array shape;
  if (object["shape"].get_array().get(shape)) header_error(path, where + ": 'shape' missing or not a list");
  uint64_t count = 1;
  for (simdjson::dom::element d : shape) {
    int64_t extent = 0;
    if (d.get_int64().get(extent) || extent < 0) {
      header_error(path, fmt::format("{}: shape must hold non-negative integers", where));
    }
    if (extent > 0 && count > std::numeric_limits<uint64_t>::max() / 16 / static_cast<uint64_t>(extent)) {
      header_error(path, fmt::format("{}: shape is absurdly large", where));
    }
    count *= static_cast<uint64_t>(extent);
    view.shape.push_back(extent);
  }

  simdjson::dom::array offsets;
  if (object["data_offsets"].get_array().get(offsets) || offsets.size() != 2) {
    header_error(path, where + ": 'data_offsets' must be a list [begin, end]");
  }
  uint64_t begin = 0, end = 0;
  if (offsets.at(0).get_uint64().get(begin) || offsets.at(1).get_uint64().get(end)) {
    header_error(path, where + ": 'data_offsets' must hold non-negative integers");
  }
  const uint64_t expected_bytes = count * dtype_size(view.dtype);
  if (end < begin) header_error(path, fmt::format("{}: data_offsets [{}, {}] end before they begin", where, begin, end));
  if (end - begin != expected_bytes) {
    header_error(path, fmt::format("{}: data_offsets [{}, {}] span {} bytes, but {} [{}] needs {}", where, begin,
                                   end, end - begin, dtype_text, fmt::join(view.shape, ", "), expected_bytes));
  }
  if (end > data.size()) {
    header_error(path, fmt::format("{}: data_offsets [{}, {}] reach past the end of the data ({} bytes): the file "
                                   "is truncated or the header is wrong",
                                   where, begin, end, data.size()));
  }
  view.bytes = data.subspan(begin, end - begin);
  return view;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : file_(path) {
  const auto bytes = file_.bytes();
  if (bytes.size() < 8) {
    header_error(path, fmt::format("{} bytes is too short for a safetensors file (8-byte header length first)",
                                   bytes.size()));
  }
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);  // little-endian, as is every machine we build for
  if (header_length > kMaxSafetensorsHeaderBytes) {
    header_error(path, fmt::format("header length {} is absurd (limit {} bytes): not a safetensors file or corrupt",
                                   header_length, kMaxSafetensorsHeaderBytes));
  }
  if (header_length > bytes.size() - 8) {
    header_error(path, fmt::format("header length {} exceeds the file size {}: truncated", header_length,
                                   bytes.size()));
  }
  const auto header = std::string_view(reinterpret_cast<const char*>(bytes.data()) + 8, header_length);
  const auto data = bytes.subspan(8 + header_length);

  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(header.data(), header.size()).get(root)) {
    header_error(path, fmt::format("header is not valid JSON ({})", simdjson::error_message(error)));
  }
  simdjson::dom::object entries;
  if (root.get_object().get(entries)) header_error(path, "header must be a JSON object");

  for (auto [key, value] : entries) {
    if (key == "__metadata__") continue;
    TensorView view = parse_entry(path, key, value, data);
    std::string name = view.name;
    if (!tensors_.emplace(name, std::move(view)).second) {
      header_error(path, fmt::format("tensor '{}' appears twice in the header", name));
    }
  }

  // Tensors must not share bytes: overlapping ranges mean a corrupt header (or a malicious file).
  std::vector<const TensorView*> ordered;
  for (const auto& [name, view] : tensors_) {
    if (!view.bytes.empty()) ordered.push_back(&view);
  }
  std::sort(ordered.begin(), ordered.end(),
            [](const TensorView* a, const TensorView* b) { return a->bytes.data() < b->bytes.data(); });
  for (size_t i = 1; i < ordered.size(); ++i) {
    const TensorView& previous = *ordered[i - 1];
    const TensorView& current = *ordered[i];
    if (previous.bytes.data() + previous.bytes.size() > current.bytes.data()) {
      header_error(path, fmt::format("tensors '{}' and '{}' overlap in the data section", previous.name,
                                     current.name));
    }
  }
}

std::unique_ptr<SafetensorsSource> SafetensorsSource::open_directory(const std::filesystem::path& dir) {
  const auto index = dir / "model.safetensors.index.json";
  if (std::filesystem::exists(index)) return open_index(index);
  const auto single = dir / "model.safetensors";
  if (std::filesystem::exists(single)) return open_file(single);
  throw std::runtime_error(fmt::format("{}: no model.safetensors or model.safetensors.index.json", dir.string()));
}

std::unique_ptr<SafetensorsSource> SafetensorsSource::open_file(const std::filesystem::path& file) {
  std::unique_ptr<SafetensorsSource> source(new SafetensorsSource());
  source->add_file(std::make_unique<SafetensorsFile>(file));
  source->description_ = file.string();
  return source;
}

std::unique_ptr<SafetensorsSource> SafetensorsSource::open_index(const std::filesystem::path& index_json) {
  simdjson::dom::parser parser;
  const std::string text = read_text_file(index_json);
  const JsonFields index = JsonFields::parse_object(parser, text, index_json.string());
  const JsonFields weight_map = index.required_object("weight_map");

  std::map<std::string, std::vector<std::string>> tensors_by_file;
  for (auto [name, file] : weight_map.object()) {
    std::string_view file_name;
    if (file.get_string().get(file_name)) {
      weight_map.fail(name, fmt::format("must be a file name, found {}", json_type_name(file)));
    }
    if (file_name.find('/') != std::string_view::npos || file_name == ".." || file_name.empty()) {
      weight_map.fail(name, fmt::format("names '{}', which is not a file in the model directory", file_name));
    }
    tensors_by_file[std::string(file_name)].emplace_back(name);
  }
  if (tensors_by_file.empty()) index.fail("weight_map", "is empty");

  std::unique_ptr<SafetensorsSource> source(new SafetensorsSource());
  const auto dir = index_json.parent_path();
  for (const auto& [file_name, names] : tensors_by_file) {
    const auto path = dir / file_name;
    if (!std::filesystem::exists(path)) {
      throw std::runtime_error(fmt::format("{}: shard '{}' (holding '{}' and {} more tensors) does not exist",
                                           index_json.string(), path.string(), names.front(), names.size() - 1));
    }
    auto file = std::make_unique<SafetensorsFile>(path);
    for (const auto& name : names) {
      if (file->tensors().find(name) == file->tensors().end()) {
        throw std::runtime_error(fmt::format("{}: the index places tensor '{}' in this shard, but it is not there",
                                             path.string(), name));
      }
    }
    source->add_file(std::move(file));
  }
  source->description_ = fmt::format("{} ({} shards)", index_json.string(), tensors_by_file.size());
  return source;
}

void SafetensorsSource::drop_pages(std::string_view name) const {
  const TensorView* view = find(name);
  if (view == nullptr) return;
  for (const auto& file : files_) file->mapping().drop_pages(view->bytes);  // only its own file's range counts
}

void SafetensorsSource::add_file(std::unique_ptr<SafetensorsFile> file) {
  for (const auto& [name, view] : file->tensors()) {
    auto [it, inserted] = by_name_.emplace(name, &view);
    if (!inserted) {
      throw std::runtime_error(fmt::format("tensor '{}' appears in both {} and {}", name, it->second->origin,
                                           view.origin));
    }
  }
  files_.push_back(std::move(file));
}

const TensorView* SafetensorsSource::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsSource::names() const {
  std::vector<std::string> result;
  result.reserve(by_name_.size());
  for (const auto& [name, view] : by_name_) result.push_back(name);
  return result;
}

}  // namespace sabre
