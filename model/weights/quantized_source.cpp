#include "model/weights/quantized_source.hpp"

#include <fmt/format.h>

#include <set>

#include "model/weights/quantized_matrices.hpp"

namespace sabre {
namespace {

constexpr std::string_view kWeightSuffix = ".weight";

}  // namespace

QuantizedSource::QuantizedSource(std::unique_ptr<WeightSource> stored, QuantizationConfig config)
    : stored_(std::move(stored)), config_(std::move(config)) {
  check_supported_quantization(config_, stored_->description());
}

const TensorView* QuantizedSource::find(std::string_view name) const {
  const std::thread::id me = std::this_thread::get_id();
  {
    std::lock_guard lock(mutex_);
    const Cache& cache = caches_[me];
    if (const auto it = cache.find(name); it != cache.end()) return &it->second.view;
  }
  if (!name.ends_with(kWeightSuffix)) return stored_->find(name);
  const std::string base(name.substr(0, name.size() - kWeightSuffix.size()));
  std::optional<RepackedMatrix> matrix = read_quantized_matrix(*stored_, base, config_);
  if (!matrix) return stored_->find(name);
  Repacked repacked;
  repacked.bytes = std::move(matrix->packed.bytes);
  TensorView& view = repacked.view;
  view.name = std::string(name);
  view.dtype = DType::packed;
  view.packed_type = matrix->packed.type;
  view.input_order = std::move(matrix->packed.input_order);
  view.shape = {matrix->rows, matrix->columns};
  view.origin = matrix->origin;
  view.bytes = repacked.bytes;  // the vector's buffer stays put when the entry is moved into the map
  std::lock_guard lock(mutex_);
  const auto [it, inserted] = caches_[me].emplace(std::string(name), std::move(repacked));
  return &it->second.view;
}

std::vector<std::string> QuantizedSource::names() const {
  std::set<std::string> out;
  for (std::string name : stored_->names()) {
    if (name.ends_with(".qweight") || name.ends_with(".weight_packed")) {
      name = name.substr(0, name.rfind('.')) + std::string(kWeightSuffix);
    } else if (is_quantization_part(name)) {
      continue;
    }
    out.insert(std::move(name));
  }
  return {out.begin(), out.end()};
}

std::string QuantizedSource::description() const {
  return fmt::format("{} ({})", stored_->description(), config_.summary());
}

void QuantizedSource::drop_pages(std::string_view name) const {
  bool repacked = false;
  {
    std::lock_guard lock(mutex_);
    Cache& cache = caches_[std::this_thread::get_id()];
    if (const auto it = cache.find(name); it != cache.end()) {
      cache.erase(it);
      repacked = true;
    }
  }
  stored_->drop_pages(name);
  if (!repacked) return;
  // A repacked layer's stored parts are done with too.
  const std::string base(name.substr(0, name.size() - kWeightSuffix.size()));
  for (const std::string_view part : quantization_part_suffixes()) stored_->drop_pages(base + std::string(part));
}

}  // namespace sabre
