// open_gguf_checkpoint: a GGUF file as a Checkpoint. The tensors are dequantised to fp32 once (the CPU
// backend computes in fp32) under their Hugging Face names, and the metadata is turned into the
// config.json / tokenizer.json / tokenizer_config.json texts the HF path reads, so that the rest of
// Sabre cannot tell the two formats apart.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "model/checkpoint.hpp"
#include "model/weights/gguf_file.hpp"
#include "model/weights/gguf_model_config.hpp"
#include "model/weights/gguf_tokenizer_json.hpp"

namespace sabre {
namespace {

// Tensors that own their fp32 data; views point into a node-based map, so they stay valid.
class GgufWeightSource final : public WeightSource {
 public:
  explicit GgufWeightSource(std::string description) : description_(std::move(description)) {}

  void add(std::string name, std::vector<int64_t> shape, std::vector<float> data, std::string origin) {
    auto [it, inserted] = entries_.try_emplace(name);
    if (!inserted) throw std::runtime_error(fmt::format("{}: two tensors map to '{}'", origin, name));
    Entry& e = it->second;
    e.data = std::move(data);
    e.view.name = std::move(name);
    e.view.dtype = DType::f32;
    e.view.shape = std::move(shape);
    e.view.bytes = std::as_bytes(std::span<const float>(e.data));
    e.view.origin = std::move(origin);
  }

  const TensorView* find(std::string_view name) const override {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second.view;
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (const auto& [name, entry] : entries_) out.push_back(name);
    return out;
  }
  std::string description() const override { return description_; }

 private:
  struct Entry {
    TensorView view;
    std::vector<float> data;
  };
  std::map<std::string, Entry, std::less<>> entries_;
  std::string description_;
};

// llama.cpp's converter reorders the rows of Llama's q/k projections (within each head, the two rotary
// halves are interleaved) to suit its rope kernel. Undo it the way transformers' GGUF loader does:
// stored row h*d + 2*i + j holds Hugging Face row h*d + j*(d/2) + i.
std::vector<float> unpermute_rope_rows(const std::vector<float>& w, int64_t rows, int64_t cols, int64_t heads,
                                       const std::string& name) {
  if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0) {
    throw std::runtime_error(fmt::format("tensor '{}' has {} rows, not {} heads of an even size", name, rows,
                                         heads));
  }
  const int64_t head_dim = rows / heads;
  const int64_t half = head_dim / 2;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t j = 0; j < 2; ++j) {
      for (int64_t i = 0; i < half; ++i) {
        const int64_t src = h * head_dim + 2 * i + j;
        const int64_t dst = h * head_dim + j * half + i;
        std::copy_n(w.begin() + src * cols, cols, out.begin() + dst * cols);
      }
    }
  }
  return out;
}

// Llama 3.1-style rope scaling: llama.cpp stores only the per-frequency divisors (rope_freqs.weight).
// Recover the parameters by checking the tensor against the standard Llama 3 recipe (low 1, high 4,
// original context 8192) with the largest divisor as the factor; anything else is refused rather than
// run with the wrong frequencies.
GgufLlama3Rope recover_llama3_rope(const std::vector<float>& freqs, double theta, int64_t head_dim,
                                   const std::string& origin) {
  GgufLlama3Rope rope;
  rope.factor = *std::max_element(freqs.begin(), freqs.end());
  const double low_wavelen = rope.original_max_position_embeddings / rope.low_freq_factor;
  const double high_wavelen = rope.original_max_position_embeddings / rope.high_freq_factor;
  if (static_cast<int64_t>(freqs.size()) * 2 != head_dim) {
    throw std::runtime_error(fmt::format("{}: rope_freqs.weight has {} entries, expected head_dim/2 = {}", origin,
                                         freqs.size(), head_dim / 2));
  }
  for (size_t i = 0; i < freqs.size(); ++i) {
    const double freq = 1.0 / std::pow(theta, 2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    const double wavelen = 2.0 * std::numbers::pi / freq;
    double expected;
    if (wavelen < high_wavelen) {
      expected = 1.0;
    } else if (wavelen > low_wavelen) {
      expected = rope.factor;
    } else {
      const double smooth = (rope.original_max_position_embeddings / wavelen - rope.low_freq_factor) /
                            (rope.high_freq_factor - rope.low_freq_factor);
      expected = 1.0 / ((1.0 - smooth) / rope.factor + smooth);
    }
    if (std::fabs(expected - freqs[i]) > 1e-3 * expected) {
      throw std::runtime_error(fmt::format(
          "{}: rope_freqs.weight[{}] = {} does not follow Llama 3 rope scaling with factor {}, low_freq_factor 1, "
          "high_freq_factor 4, original context 8192 (expected {}); this rope scaling is not supported",
          origin, i, freqs[i], rope.factor, expected));
    }
  }
  return rope;
}

// Dequantises every listed tensor on all cores (the work is independent per tensor).
std::vector<std::vector<float>> dequantise_all(const GgufFile& file, const std::vector<const GgufTensorInfo*>& todo) {
  std::vector<std::vector<float>> out(todo.size());
  std::atomic<size_t> next{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto worker = [&] {
    for (size_t i = next++; i < todo.size(); i = next++) {
      try {
        out[i] = file.tensor_to_f32(*todo[i]);
      } catch (...) {
        std::lock_guard lock(failure_mutex);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, 16);
  {
    std::vector<std::jthread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
  }
  if (failure) std::rethrow_exception(failure);
  return out;
}

}  // namespace

Checkpoint open_gguf_checkpoint(const std::filesystem::path& path) {
  const GgufFile file = GgufFile::open(path);
  const std::string origin = path.string();
  const std::string arch = gguf_architecture(file);

  const bool tied = file.find_tensor("output.weight") == nullptr;
  std::optional<GgufLlama3Rope> llama3_rope;
  if (const auto* freqs = file.find_tensor("rope_freqs.weight")) {
    const double theta = file.contains(arch + ".rope.freq_base") ? file.get_float(arch + ".rope.freq_base") : 10000.0;
    const uint64_t heads = file.get_uint(arch + ".attention.head_count");
    const uint64_t head_dim = file.contains(arch + ".attention.key_length")
                                  ? file.get_uint(arch + ".attention.key_length")
                                  : file.get_uint(arch + ".embedding_length") / heads;
    llama3_rope = recover_llama3_rope(file.tensor_to_f32(*freqs), theta, static_cast<int64_t>(head_dim), origin);
  }

  Checkpoint checkpoint;
  checkpoint.path = path;
  checkpoint.config = parse_model_config(gguf_config_json(file, tied, llama3_rope), origin + " (GGUF metadata)");
  checkpoint.generation.eos_token_ids = checkpoint.config.eos_token_ids;

  std::vector<const GgufTensorInfo*> todo;
  std::vector<std::string> hf_names;
  std::map<std::string, size_t> type_counts;
  for (const auto& tensor : file.tensors()) {
    if (tensor.name == "rope_freqs.weight") continue;  // folded into rope_scaling above
    auto hf = gguf_to_hf_tensor_name(tensor.name);
    if (!hf) {
      throw std::runtime_error(fmt::format("{}: tensor '{}' has no Hugging Face counterpart Sabre knows", origin,
                                           tensor.name));
    }
    todo.push_back(&tensor);
    hf_names.push_back(std::move(*hf));
    ++type_counts[ggml_type_name(tensor.raw_type)];
  }
  auto data = dequantise_all(file, todo);

  std::vector<std::string> type_summary;
  for (const auto& [type, count] : type_counts) type_summary.push_back(fmt::format("{} {}", count, type));
  auto weights = std::make_unique<GgufWeightSource>(
      fmt::format("{} (GGUF v{}: {}; dequantised to F32)", path.filename().string(), file.version(),
                  fmt::join(type_summary, ", ")));
  const ModelConfig& config = checkpoint.config;
  for (size_t i = 0; i < todo.size(); ++i) {
    const auto& tensor = *todo[i];
    auto shape = tensor.torch_shape();
    auto values = std::move(data[i]);
    const bool is_q = tensor.name.ends_with(".attn_q.weight");
    const bool is_k = tensor.name.ends_with(".attn_k.weight");
    if (arch == "llama" && (is_q || is_k)) {
      if (shape.size() != 2) {
        throw std::runtime_error(fmt::format("{}: tensor '{}' is not 2-D", origin, tensor.name));
      }
      values = unpermute_rope_rows(values, shape[0], shape[1],
                                   is_q ? config.num_attention_heads : config.num_key_value_heads, tensor.name);
    }
    weights->add(hf_names[i], std::move(shape), std::move(values), origin);
  }
  checkpoint.weights = std::move(weights);
  checkpoint.tokenizer_json = gguf_tokenizer_json(file);
  checkpoint.tokenizer_config_json = gguf_tokenizer_config_json(file);
  spdlog::info("opened {}: {} with {} tensors", origin, architecture_name(config.architecture),
               checkpoint.weights->names().size());
  return checkpoint;
}

}  // namespace sabre
