#include "model/model_weights.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

#include "model/weights/dtype_convert.hpp"
#include "model/weights/gguf_dequant.hpp"
#include "model/tensor_slice.hpp"

namespace sabre {
namespace {

// Stacks tensors that share their column count (q, k, v -> qkv) into one host array.
template <class T>
std::vector<T> concatenate(std::vector<std::vector<T>> parts) {
  if (parts.size() == 1) return std::move(parts.front());
  size_t total = 0;
  for (const auto& p : parts) total += p.size();
  std::vector<T> out;
  out.reserve(total);
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Which part of a stored [rows, columns] (or [rows]) tensor a rank loads: all of it, rows begin ..
// begin + count - 1 (rows past the tensor's end are zeros: a vocabulary padded to divide among ranks), or
// those columns of every row.
int64_t elements_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// The element type a stored tensor can be uploaded as without conversion (GGUF's block formats included).
std::optional<ElementType> element_type_of(const TensorView& view) {
  switch (view.dtype) {
    case DType::f32: return ElementType::f32;
    case DType::bf16: return ElementType::bf16;
    case DType::f16: return ElementType::f16;
    case DType::q8_0: return ElementType::q8_0;
    case DType::q4_1: return ElementType::q4_1;
    case DType::gguf: return ggml_element_type(view.ggml_type);
    case DType::packed: return view.packed_type;
    default: return std::nullopt;  // a quantised checkpoint's raw parts
  }
}

// The type the matrices and the embedding are kept in (ModelDtype's rules).
ElementType float_weight_type(ModelDtype dtype, const ModelConfig& config) {
  switch (dtype) {
    case ModelDtype::bfloat16: return ElementType::bf16;
    case ModelDtype::float16: return ElementType::f16;
    case ModelDtype::float32: return ElementType::f32;
    case ModelDtype::automatic: break;
  }
  if (config.torch_dtype == "bfloat16") return ElementType::bf16;
  if (config.torch_dtype == "float16") return ElementType::f16;
  return ElementType::f32;
}

// One stacked part of a matrix in the type it is to be kept in: a view of the stored bytes when they are
// already in that type (nothing converted or copied yet), or the converted bytes.
struct PartBytes {
  std::span<const std::byte> view;
  std::vector<std::byte> converted;
  std::span<const std::byte> bytes() const { return converted.empty() ? view : std::span<const std::byte>(converted); }
};

PartBytes part_as(const WeightSource& source, const TensorPart& part, ElementType type) {
  const TensorView* view = source.find(part.name);
  if (view != nullptr && view->shape == part.shape && element_type_of(*view) == type) {
    if (part.slice.kind == TensorSlice::whole) return {view->bytes, {}};
    const int64_t columns = part.shape.size() > 1 ? part.shape[1] : 1;
    if (part.slice.kind == TensorSlice::rows && part.slice.begin + part.slice.count <= part.shape[0]) {
      // A run of whole rows: still a view of the stored bytes.
      const size_t row_bytes = element_bytes(type, columns);
      return {view->bytes.subspan(static_cast<size_t>(part.slice.begin) * row_bytes,
                                  static_cast<size_t>(part.slice.count) * row_bytes),
              {}};
    }
    return {{}, slice_bytes(view->bytes, part.shape, type, part)};
  }
  if (is_packed(type)) throw std::logic_error("part_as: converting into a packed type");
  // Converted (or dequantised) as a whole in fp32, then sliced, then stored in `type`.
  std::vector<float> values = load_f32(source, part.name, part.shape);  // reports a missing tensor or a bad shape
  if (part.slice.kind != TensorSlice::whole) {
    const std::vector<std::byte> sliced =
        slice_bytes(std::as_bytes(std::span<const float>(values)), part.shape, ElementType::f32, part);
    values.resize(sliced.size() / sizeof(float));
    std::memcpy(values.data(), sliced.data(), sliced.size());
  }
  PartBytes bytes;
  if (type == ElementType::f32) {
    bytes.converted.resize(values.size() * sizeof(float));
    std::memcpy(bytes.converted.data(), values.data(), bytes.converted.size());
    return bytes;
  }
  bytes.converted.resize(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h = type == ElementType::bf16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
    std::memcpy(bytes.converted.data() + 2 * i, &h, 2);
  }
  return bytes;
}

// The quantised type every part is stored in with its expected shape, if they all are in the same one.
// Parts whose columns were reordered (act-order GPTQ) qualify only when they share one order, the backend
// applies it, and the slice keeps whole rows.
std::optional<ElementType> common_packed_type(const WeightSource& source, const TensorParts& parts,
                                              const Backend& backend) {
  std::optional<ElementType> common;
  const std::vector<int32_t>* order = nullptr;
  for (const TensorPart& part : parts) {
    const TensorView* view = source.find(part.name);
    if (view == nullptr || view->shape != part.shape) return std::nullopt;
    const auto type = element_type_of(*view);
    if (!type || !is_packed(*type) || (common && *common != *type)) return std::nullopt;
    if (order != nullptr && *order != view->input_order) return std::nullopt;
    if (!view->input_order.empty() &&
        (!backend.permutes_linear_inputs() || part.splits_columns())) {
      return std::nullopt;
    }
    common = type;
    order = &view->input_order;
  }
  return common;
}

// The column order the parts share (checked by common_packed_type), or null when they are in order.
std::unique_ptr<DeviceBuffer> upload_input_order(const WeightSource& source, const TensorParts& parts, Backend& backend) {
  const std::vector<int32_t>& order = source.find(parts.front().name)->input_order;
  if (order.empty()) return nullptr;
  return backend.upload(ElementType::i32, static_cast<int64_t>(order.size()), std::as_bytes(std::span(order)));
}

// One linear layer's matrix from one or more stacked tensors (rows of q, k, v). Kept in its quantised
// form when every part is stored in the same one and `keep_quantized`; otherwise in `type`. A single
// part already in the wanted type goes from the mapped file to the backend with no copy in between.
// The block format of each part as stored, when every part is stored in one the backend multiplies with
// (and there are several parts in more than one format): the parts are then kept split.
std::optional<std::vector<ElementType>> split_packed_types(const WeightSource& source, const TensorParts& parts,
                                                           const Backend& backend) {
  if (parts.size() < 2 || !backend.multiplies_split_matrices()) return std::nullopt;
  std::vector<ElementType> types;
  for (const TensorPart& part : parts) {
    const TensorView* view = source.find(part.name);
    if (view == nullptr || view->shape != part.shape || !view->input_order.empty()) return std::nullopt;
    const auto type = element_type_of(*view);
    if (!type || !is_packed(*type) || !backend.multiplies_packed(*type)) return std::nullopt;
    types.push_back(*type);
  }
  return types;
}

MatrixWeight load_matrix(const WeightSource& source, Backend& backend, const TensorParts& parts, ElementType type,
                         bool keep_quantized) {
  std::unique_ptr<DeviceBuffer> input_order;
  if (keep_quantized) {
    const auto packed = common_packed_type(source, parts, backend);
    if (packed && backend.multiplies_packed(*packed)) {
      type = *packed;
      input_order = upload_input_order(source, parts, backend);
    } else if (const auto types = split_packed_types(source, parts, backend)) {
      MatrixWeight m;
      for (size_t i = 0; i < parts.size(); ++i) {
        const PartBytes bytes = part_as(source, parts[i], (*types)[i]);
        const std::vector<int64_t> shape = parts[i].loaded_shape();
        m.parts.push_back({backend.upload((*types)[i], elements_of(shape), bytes.bytes()), shape[0]});
        source.drop_pages(parts[i].name);
      }
      return m;
    }
  }
  std::vector<PartBytes> bytes;
  int64_t elements = 0;
  for (const TensorPart& part : parts) {
    bytes.push_back(part_as(source, part, type));
    elements += elements_of(part.loaded_shape());
  }
  MatrixWeight m;
  if (bytes.size() == 1) {
    m.buffer = backend.upload(type, elements, bytes.front().bytes());
  } else {
    std::vector<std::byte> stacked;
    for (const PartBytes& part : bytes) stacked.insert(stacked.end(), part.bytes().begin(), part.bytes().end());
    m.buffer = backend.upload(type, elements, stacked);
  }
  m.input_order = std::move(input_order);
  for (const TensorPart& part : parts) source.drop_pages(part.name);
  return m;
}

}  // namespace

LinearWeight MatrixWeight::linear(const float* bias, int64_t out_features, int64_t in_features) const {
  if (split()) throw std::logic_error("MatrixWeight::linear: a split matrix has one LinearWeight per part (pieces)");
  LinearWeight w{buffer->raw(), bias, out_features, in_features, buffer->type()};
  if (input_order) w.input_order = static_cast<const int32_t*>(input_order->raw());
  return w;
}

std::vector<std::pair<int64_t, LinearWeight>> MatrixWeight::pieces(const float* bias, int64_t out_features,
                                                                   int64_t in_features) const {
  if (!split()) return {{0, linear(bias, out_features, in_features)}};
  std::vector<std::pair<int64_t, LinearWeight>> out;
  int64_t first = 0;
  for (const Part& part : parts) {
    LinearWeight w{part.buffer->raw(), bias ? bias + first : nullptr, part.rows, in_features, part.buffer->type()};
    w.y_stride = out_features;
    out.emplace_back(first, w);
    first += part.rows;
  }
  if (first != out_features) {
    throw std::logic_error(fmt::format("MatrixWeight::pieces: parts of {} rows for {} outputs", first, out_features));
  }
  return out;
}

size_t MatrixWeight::bytes() const {
  size_t total = buffer ? buffer->bytes() : 0;
  for (const Part& part : parts) total += part.buffer->bytes();
  return total;
}

size_t ModelWeights::bytes() const {
  const auto size = [](const std::unique_ptr<DeviceBuffer>& b) { return b ? b->bytes() : size_t{0}; };
  size_t total = size(embed_tokens) + size(final_norm) + lm_head.bytes();
  for (const LayerWeights& l : layers) {
    total += size(l.input_norm) + l.qkv.bytes() + size(l.qkv_bias) + size(l.q_norm) + size(l.k_norm) +
             l.o_proj.bytes() + size(l.o_bias) + size(l.post_norm) + l.gate_up.bytes() + l.down.bytes();
  }
  return total;
}

std::string ModelWeights::matrix_types_summary() const {
  std::map<std::string_view, int> counts;
  const auto count = [&](const std::unique_ptr<DeviceBuffer>& b) {
    if (b) ++counts[element_type_name(b->type())];
  };
  const auto count_matrix = [&](const MatrixWeight& m) {
    count(m.buffer);
    for (const MatrixWeight::Part& part : m.parts) count(part.buffer);
  };
  count(embed_tokens);
  count_matrix(lm_head);
  for (const LayerWeights& l : layers) {
    count_matrix(l.qkv);
    count_matrix(l.o_proj);
    count_matrix(l.gate_up);
    count_matrix(l.down);
  }
  std::string summary;
  for (const auto& [type, n] : counts) summary += fmt::format("{}{} x{}", summary.empty() ? "" : ", ", type, n);
  return summary;
}

LinearWeight ModelWeights::lm_head_linear(int64_t vocab, int64_t hidden) const {
  if (lm_head.buffer) return lm_head.linear(nullptr, vocab, hidden);
  return LinearWeight{embed_tokens->raw(), nullptr, vocab, hidden, embed_tokens->type()};
}

ModelWeights load_model_weights(const ModelConfig& c, const WeightSource& source, Backend& backend,
                                const WeightOptions& options, const ShardPlan& shard) {
  const auto start = std::chrono::steady_clock::now();
  const int64_t hidden = c.hidden_size, d = c.head_dim;
  const int64_t q_dim = c.num_attention_heads * d, kv_dim = c.num_key_value_heads * d;
  const int64_t inter = c.intermediate_size, vocab = c.vocab_size;
  auto load = [&](const std::string& name, std::vector<int64_t> shape) {
    std::vector<float> values = load_f32(source, name, shape);
    source.drop_pages(name);
    return values;
  };
  // This rank's part of a bias: values begin .. begin + count - 1 of the whole.
  auto load_part = [&](const std::string& name, int64_t length, int64_t begin, int64_t count) {
    std::vector<float> whole = load(name, {length});
    return std::vector<float>(whole.begin() + begin, whole.begin() + begin + count);
  };
  auto upload = [&](std::vector<float>&& host) { return backend.upload(std::move(host)); };
  // The float type the backend multiplies in: a GPU's GEMMs want the activations' type.
  const ElementType type = backend.weight_float_type(float_weight_type(options.dtype, c));
  const bool keep_quantized = options.gguf == GgufWeights::quantized;
  auto matrix = [&](const TensorParts& parts) { return load_matrix(source, backend, parts, type, keep_quantized); };
  // Qwen2 biases q/k/v but not o; Llama's and Qwen3's attention_bias covers all four projections. A
  // row-parallel layer's bias is added once, by rank 0, before the all-reduce sums the ranks' parts.
  const bool o_bias = c.attention_bias && c.architecture != Architecture::qwen2 && shard.rank == 0;
  // This rank's rows of a column-parallel matrix, columns of a row-parallel one.
  const auto rows = [](int64_t begin, int64_t count) { return TensorSlice{TensorSlice::rows, begin, count}; };
  const auto columns = [](int64_t begin, int64_t count) { return TensorSlice{TensorSlice::columns, begin, count}; };
  const TensorSlice q_rows = rows(shard.q_head_first * d, shard.q_heads * d);
  const TensorSlice kv_rows = rows(shard.kv_head_first * d, shard.kv_heads * d);
  const TensorSlice inter_rows = rows(shard.inter_first, shard.inter);
  const TensorSlice vocab_rows = rows(shard.vocab_first, shard.vocab);

  ModelWeights w;
  // The embedding as the matrices are kept (quantised when the checkpoint has it so, else the model's float
  // type): the lookup converts the rows it reads, and a tied LM head multiplies with it as it is.
  w.embed_tokens = matrix({{"model.embed_tokens.weight", {vocab, hidden}, vocab_rows}}).buffer;
  w.layers.resize(static_cast<size_t>(c.num_hidden_layers));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    // fmt rather than string + string: g++ 12 warns falsely (-Wrestrict) on the latter.
    const auto p = [i](std::string_view suffix) { return fmt::format("model.layers.{}.{}", i, suffix); };
    LayerWeights& layer = w.layers[static_cast<size_t>(i)];
    layer.input_norm = upload(load(p("input_layernorm.weight"), {hidden}));
    layer.qkv = matrix({{p("self_attn.q_proj.weight"), {q_dim, hidden}, q_rows},
                        {p("self_attn.k_proj.weight"), {kv_dim, hidden}, kv_rows},
                        {p("self_attn.v_proj.weight"), {kv_dim, hidden}, kv_rows}});
    if (c.attention_bias) {
      layer.qkv_bias = upload(concatenate<float>(
          {load_part(p("self_attn.q_proj.bias"), q_dim, q_rows.begin, q_rows.count),
           load_part(p("self_attn.k_proj.bias"), kv_dim, kv_rows.begin, kv_rows.count),
           load_part(p("self_attn.v_proj.bias"), kv_dim, kv_rows.begin, kv_rows.count)}));
    }
    if (c.qk_norm) {
      layer.q_norm = upload(load(p("self_attn.q_norm.weight"), {d}));
      layer.k_norm = upload(load(p("self_attn.k_norm.weight"), {d}));
    }
    layer.o_proj = matrix({{p("self_attn.o_proj.weight"), {hidden, q_dim}, columns(q_rows.begin, q_rows.count)}});
    if (o_bias) layer.o_bias = upload(load(p("self_attn.o_proj.bias"), {hidden}));
    layer.post_norm = upload(load(p("post_attention_layernorm.weight"), {hidden}));
    layer.gate_up = matrix({{p("mlp.gate_proj.weight"), {inter, hidden}, inter_rows},
                            {p("mlp.up_proj.weight"), {inter, hidden}, inter_rows}});
    layer.down = matrix({{p("mlp.down_proj.weight"), {hidden, inter}, columns(inter_rows.begin, inter_rows.count)}});
  }
  w.final_norm = upload(load("model.norm.weight", {hidden}));
  if (!c.tie_word_embeddings) w.lm_head = matrix({{"lm_head.weight", {vocab, hidden}, vocab_rows}});

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("loaded {} layers of {} from {} in {:.2f} s: {:.1f} MiB of weights, matrices in {}{}",
               c.num_hidden_layers, architecture_name(c.architecture), source.description(), seconds,
               static_cast<double>(w.bytes()) / (1 << 20), w.matrix_types_summary(),
               shard.sharded() ? fmt::format(" (rank {} of {})", shard.rank, shard.size) : std::string());
  return w;
}

}  // namespace sabre
