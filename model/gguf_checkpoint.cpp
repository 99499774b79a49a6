// open_gguf_checkpoint: a GGUF file as a Checkpoint. The tensors are views into the mapped file under
// their Hugging Face names, in the type the file stores (nothing is dequantised here: load_model_weights
// keeps Q8_0 / Q4_1 matrices as they are and converts the rest), and the metadata is turned into the
// config.json / tokenizer.json / tokenizer_config.json texts the HF path reads, so that the rest of Sabre
// cannot tell the two formats apart.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <mutex>
#include <numbers>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "model/checkpoint.hpp"
#include "model/weights/gguf_file.hpp"
#include "model/weights/gguf_model_config.hpp"
#include "model/weights/gguf_types.hpp"
#include "model/weights/gguf_tokenizer_json.hpp"

namespace sabre {
namespace {

// Views of the file's tensors by Hugging Face name. The file stays mapped as long as the source lives;
// only tensors whose rows had to be reordered (Llama's q/k, see unpermute_rope_rows) own a copy, still
// in the stored type.
class GgufWeightSource final : public WeightSource {
 public:
  GgufWeightSource(GgufFile file, std::string description)
      : file_(std::move(file)), description_(std::move(description)) {}

  const GgufFile& file() const { return file_; }

  // `reordered` empty: view the tensor's bytes in the file; else the tensor's bytes rearranged.
  void add(std::string name, const GgufTensorInfo& tensor, std::vector<std::byte> reordered) {
    auto [it, inserted] = entries_.try_emplace(name);
    if (!inserted) throw std::runtime_error(fmt::format("{}: two tensors map to '{}'", file_.path().string(), name));
    Entry& e = it->second;
    e.owned = std::move(reordered);
    e.view.name = std::move(name);
    e.view.dtype = stored_dtype(tensor.raw_type);
    e.view.ggml_type = tensor.raw_type;
    e.view.shape = tensor.torch_shape();
    e.view.bytes = e.owned.empty() ? tensor.bytes : std::span<const std::byte>(e.owned);
    e.view.origin = file_.path().string();
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
  void drop_pages(std::string_view name) const override {
    if (const TensorView* view = find(name)) file_.drop_pages(view->bytes);  // a reordered copy is not mapped
  }

 private:
  static DType stored_dtype(uint32_t raw_type) {
    switch (static_cast<GgmlType>(raw_type)) {
      case GgmlType::f32: return DType::f32;
      case GgmlType::f16: return DType::f16;
      case GgmlType::bf16: return DType::bf16;
      case GgmlType::q8_0: return DType::q8_0;
      case GgmlType::q4_1: return DType::q4_1;
      default: return DType::gguf;
    }
  }

  struct Entry {
    TensorView view;
    std::vector<std::byte> owned;
  };
  GgufFile file_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::string description_;
};

// llama.cpp's converter reorders the rows of Llama's q/k projections (within each head, the two rotary
// halves are interleaved) to suit its rope kernel. Undo it the way transformers' GGUF loader does:
// stored row h*d + 2*i + j holds Hugging Face row h*d + j*(d/2) + i. `cols` counts elements of T per
// row: floats, or the bytes of a row of quantised blocks (blocks never straddle rows).
template <class T>
std::vector<T> unpermute_rope_rows(const std::vector<T>& w, int64_t rows, int64_t cols, int64_t heads,
                                   const std::string& name) {
  if (heads <= 0 || rows % heads != 0 || (rows / heads) % 2 != 0) {
    throw std::runtime_error(fmt::format("tensor '{}' has {} rows, not {} heads of an even size", name, rows,
                                         heads));
  }
  const int64_t head_dim = rows / heads;
  const int64_t half = head_dim / 2;
  std::vector<T> out(w.size());
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

// Llama 3.1-style rope scaling: llama.cpp stores only the per-frequency divisors (rope_freqs.weight),
// not the parameters. The divisors depend on the parameters only through factor, low_freq_factor / L and
// high_freq_factor / L (L = original context), so with L fixed (the file's
// rope.scaling.original_context_length, else Llama 3's 8192) the other two are fitted to the tensor and
// the result is checked against every entry; a tensor that no Llama 3 recipe explains is refused rather
// than run with the wrong frequencies.
GgufLlama3Rope recover_llama3_rope(const std::vector<float>& divisors, double theta, int64_t head_dim,
                                   int64_t original_context, const std::string& origin) {
  if (static_cast<int64_t>(divisors.size()) * 2 != head_dim) {
    throw std::runtime_error(fmt::format("{}: rope_freqs.weight has {} entries, expected head_dim/2 = {}", origin,
                                         divisors.size(), head_dim / 2));
  }
  GgufLlama3Rope rope;
  rope.original_max_position_embeddings = original_context;
  rope.factor = *std::max_element(divisors.begin(), divisors.end());
  const double L = static_cast<double>(original_context);
  auto near = [](double a, double b) { return std::fabs(a - b) <= 1e-4 * std::max(1.0, std::fabs(b)); };

  // x = 1 / wavelength, decreasing with the index. Entries equal to 1 lie above high/L, entries equal
  // to the factor below low/L, the rest interpolate linearly in x: s = (x - low/L) / (high/L - low/L).
  std::vector<double> x(divisors.size());
  double min_x_one = 1e300, max_x_full = -1e300;
  std::vector<std::pair<double, double>> smooth;  // (x, s)
  for (size_t i = 0; i < divisors.size(); ++i) {
    const double freq = 1.0 / std::pow(theta, 2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    x[i] = freq / (2.0 * std::numbers::pi);
    const double d = divisors[i];
    if (near(d, 1.0)) {
      min_x_one = std::min(min_x_one, x[i]);
    } else if (near(d, rope.factor)) {
      max_x_full = std::max(max_x_full, x[i]);
    } else {
      smooth.emplace_back(x[i], (1.0 / d - 1.0 / rope.factor) / (1.0 - 1.0 / rope.factor));
    }
  }
  double low_x, high_x;  // low/L and high/L
  if (smooth.size() >= 2) {
    const auto [x0, s0] = smooth.front();
    const auto [x1, s1] = smooth.back();
    const double slope = (s1 - s0) / (x1 - x0);
    low_x = x0 - s0 / slope;
    high_x = low_x + 1.0 / slope;
  } else {
    // Too few interpolated entries to fit: any thresholds in the gaps give the same divisors.
    const double lo_bound = max_x_full > -1e300 ? max_x_full : 0.0;
    const double hi_bound = min_x_one < 1e300 ? min_x_one : 2.0 * std::max(lo_bound, x.front());
    if (smooth.empty()) {
      low_x = lo_bound + (hi_bound - lo_bound) / 3.0;
      high_x = lo_bound + 2.0 * (hi_bound - lo_bound) / 3.0;
    } else {
      const auto [xs, s] = smooth.front();
      double width = 1e300;
      if (s > 0) width = std::min(width, (xs - lo_bound) / s);
      if (s < 1) width = std::min(width, (hi_bound - xs) / (1.0 - s));
      width *= 0.5;
      low_x = xs - s * width;
      high_x = low_x + width;
    }
  }
  rope.low_freq_factor = low_x * L;
  rope.high_freq_factor = high_x * L;

  // Recompute every divisor as transformers / llama.cpp would and insist on a match.
  const double low_wavelen = L / rope.low_freq_factor;
  const double high_wavelen = L / rope.high_freq_factor;
  for (size_t i = 0; i < divisors.size(); ++i) {
    const double wavelen = 1.0 / x[i];
    double expected;
    if (wavelen < high_wavelen) {
      expected = 1.0;
    } else if (wavelen > low_wavelen) {
      expected = rope.factor;
    } else {
      const double s = (L / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
      expected = 1.0 / ((1.0 - s) / rope.factor + s);
    }
    if (!(rope.low_freq_factor > 0 && rope.high_freq_factor > rope.low_freq_factor) ||
        std::fabs(expected - divisors[i]) > 1e-3 * expected) {
      throw std::runtime_error(fmt::format(
          "{}: rope_freqs.weight[{}] = {} is not explained by Llama 3 rope scaling (fitted factor {}, "
          "low_freq_factor {}, high_freq_factor {}, original context {} give {}); this rope scaling is not "
          "supported",
          origin, i, divisors[i], rope.factor, rope.low_freq_factor, rope.high_freq_factor, original_context,
          expected));
    }
  }
  return rope;
}

}  // namespace

Checkpoint open_gguf_checkpoint(const std::filesystem::path& path) {
  GgufFile file = GgufFile::open(path);
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
    const std::string original_key = arch + ".rope.scaling.original_context_length";
    const int64_t original_context = file.contains(original_key) ? file.get_int(original_key) : 8192;
    llama3_rope = recover_llama3_rope(file.tensor_to_f32(*freqs), theta, static_cast<int64_t>(head_dim),
                                      original_context, origin);
  }

  Checkpoint checkpoint;
  checkpoint.path = path;
  checkpoint.config = parse_model_config(gguf_config_json(file, tied, llama3_rope), origin + " (GGUF metadata)");
  checkpoint.generation.eos_token_ids = checkpoint.config.eos_token_ids;

  std::map<std::string, size_t> type_counts;
  for (const auto& tensor : file.tensors()) ++type_counts[ggml_type_name(tensor.raw_type)];
  std::vector<std::string> type_summary;
  for (const auto& [type, count] : type_counts) type_summary.push_back(fmt::format("{} {}", count, type));
  const GgufTokenizerMetadata tokenizer = read_gguf_tokenizer_metadata(file);
  const std::string description =
      fmt::format("{} (GGUF v{}: {})", path.filename().string(), file.version(), fmt::join(type_summary, ", "));
  auto weights = std::make_unique<GgufWeightSource>(std::move(file), description);
  const ModelConfig& config = checkpoint.config;
  for (const auto& tensor : weights->file().tensors()) {
    if (tensor.name == "rope_freqs.weight") continue;  // folded into rope_scaling above
    auto hf = gguf_to_hf_tensor_name(tensor.name);
    if (!hf) {
      throw std::runtime_error(fmt::format("{}: tensor '{}' has no Hugging Face counterpart Sabre knows", origin,
                                           tensor.name));
    }
    const bool is_q = tensor.name.ends_with(".attn_q.weight");
    const bool is_k = tensor.name.ends_with(".attn_k.weight");
    std::vector<std::byte> reordered;
    if (arch == "llama" && (is_q || is_k)) {
      const auto shape = tensor.torch_shape();
      if (shape.size() != 2) throw std::runtime_error(fmt::format("{}: tensor '{}' is not 2-D", origin, tensor.name));
      // Rows hold whole blocks, so the reordering moves rows of stored bytes, whatever the type.
      const std::vector<std::byte> stored(tensor.bytes.begin(), tensor.bytes.end());
      const int64_t row_bytes = static_cast<int64_t>(stored.size()) / shape[0];
      reordered = unpermute_rope_rows(stored, shape[0], row_bytes,
                                      is_q ? config.num_attention_heads : config.num_key_value_heads, tensor.name);
    }
    weights->add(std::move(*hf), tensor, std::move(reordered));
  }
  checkpoint.weights = std::move(weights);
  checkpoint.tokenizer_json = tokenizer_json_from_gguf(tokenizer);
  checkpoint.tokenizer_config_json = tokenizer_config_json_from_gguf(tokenizer);
  spdlog::info("opened {}: {} with {} tensors", origin, architecture_name(config.architecture),
               checkpoint.weights->names().size());
  return checkpoint;
}

}  // namespace sabre
