#pragma once
// A quantised safetensors checkpoint (GPTQ, AWQ, FP8, compressed-tensors) seen as a WeightSource whose
// linear layers are plain "<layer>.weight" tensors of Sabre's block types (dtype packed): the loader asks
// for q_proj.weight as for any checkpoint and gets q4_z / q8_z / fp8_s blocks, while embeddings, norms,
// biases and any layer the checkpoint left unquantised pass through unchanged.
//
// A layer is repacked when it is first asked for, by the thread asking (tensor-parallel ranks load in
// parallel, each from its own copy), and freed when that thread drops it: at most the few matrices being
// loaded are held twice. A repacked view lives until its thread's drop_pages(name) or the source's end.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/quantization_config.hpp"
#include "model/weights/weight_source.hpp"

namespace sabre {

class QuantizedSource final : public WeightSource {
 public:
  // Throws ConfigError for a quantisation Sabre cannot read (check_supported_quantization).
  QuantizedSource(std::unique_ptr<WeightSource> stored, QuantizationConfig config);

  const TensorView* find(std::string_view name) const override;
  std::vector<std::string> names() const override;
  std::string description() const override;
  void drop_pages(std::string_view name) const override;

 private:
  struct Repacked {
    TensorView view;
    std::vector<std::byte> bytes;
  };
  using Cache = std::map<std::string, Repacked, std::less<>>;

  std::unique_ptr<WeightSource> stored_;
  QuantizationConfig config_;
  mutable std::mutex mutex_;
  mutable std::map<std::thread::id, Cache> caches_;
};

}  // namespace sabre
