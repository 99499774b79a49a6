#pragma once
// Hugging Face safetensors checkpoints, mmapped and viewed in place: one model.safetensors file, or
// shards listed by model.safetensors.index.json. Every header is validated when the checkpoint is opened
// (JSON, dtypes, shapes, offsets inside the file, no overlaps), so a bad file fails early with a message
// naming the file, the tensor and the expectation, never later inside the forward pass.

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/weights/mapped_file.hpp"
#include "model/weights/weight_source.hpp"

namespace sabre {

// The largest header we accept; real headers are well under a megabyte, so anything near this is a
// corrupt length field rather than a header.
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

// One mapped safetensors file and the tensors its header describes.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return file_.path(); }
  const std::map<std::string, TensorView, std::less<>>& tensors() const { return tensors_; }
  const MappedFile& mapping() const { return file_; }

 private:
  MappedFile file_;
  std::map<std::string, TensorView, std::less<>> tensors_;
};

class SafetensorsSource final : public WeightSource {
 public:
  // Opens DIR/model.safetensors.index.json (sharded) or else DIR/model.safetensors.
  static std::unique_ptr<SafetensorsSource> open_directory(const std::filesystem::path& dir);
  static std::unique_ptr<SafetensorsSource> open_file(const std::filesystem::path& file);
  static std::unique_ptr<SafetensorsSource> open_index(const std::filesystem::path& index_json);

  const TensorView* find(std::string_view name) const override;
  std::vector<std::string> names() const override;
  std::string description() const override { return description_; }
  void drop_pages(std::string_view name) const override;

 private:
  SafetensorsSource() = default;
  void add_file(std::unique_ptr<SafetensorsFile> file);

  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*, std::less<>> by_name_;
  std::string description_;
};

}  // namespace sabre
