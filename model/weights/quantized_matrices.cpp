#include "model/weights/quantized_matrices.hpp"

#include <fmt/format.h>

#include <array>
#include <cstring>
#include <stdexcept>

#include "kernels/checkpoint_blocks.hpp"
#include "model/weights/dtype_convert.hpp"

namespace sabre {
namespace {

// Inputs per repacked block (q4_z, q8_z and fp8_s alike).
constexpr int64_t kBlock = element_block_size(ElementType::q4_z);

[[noreturn]] void part_error(const TensorView& v, std::string_view what) {
  throw std::runtime_error(fmt::format("{}: tensor '{}' ({} [{}]) {}", v.origin, v.name, dtype_name(v.dtype),
                                       fmt::join(v.shape, ", "), what));
}

const TensorView& require(const WeightSource& source, const std::string& name, std::string_view role) {
  const TensorView* v = source.find(name);
  if (v == nullptr) {
    throw std::runtime_error(fmt::format("{}: tensor '{}' ({}) is missing", source.description(), name, role));
  }
  return *v;
}

void expect_shape(const TensorView& v, const std::vector<int64_t>& shape, std::string_view why) {
  if (v.shape != shape) part_error(v, fmt::format("should have shape [{}] ({})", fmt::join(shape, ", "), why));
}

void expect_rank(const TensorView& v, size_t rank) {
  if (v.shape.size() != rank) part_error(v, fmt::format("should have {} dimensions", rank));
}

int64_t elements(const TensorView& v) {
  int64_t n = 1;
  for (int64_t d : v.shape) n *= d;
  return n;
}

std::vector<float> floats(const TensorView& v) {
  if (v.dtype != DType::f32 && v.dtype != DType::f16 && v.dtype != DType::bf16) {
    part_error(v, "should hold scales in F32, F16 or BF16");
  }
  std::vector<float> out(static_cast<size_t>(elements(v)));
  convert_to_f32(v.dtype, v.bytes, out);
  return out;
}

std::vector<uint32_t> words(const TensorView& v) {
  if (v.dtype != DType::i32) part_error(v, "should hold packed integers in I32");
  std::vector<uint32_t> out(static_cast<size_t>(elements(v)));
  std::memcpy(out.data(), v.bytes.data(), out.size() * 4);
  return out;
}

std::vector<int64_t> integers(const TensorView& v) {
  std::vector<int64_t> out(static_cast<size_t>(elements(v)));
  for (size_t i = 0; i < out.size(); ++i) {
    if (v.dtype == DType::i32) {
      int32_t x;
      std::memcpy(&x, v.bytes.data() + 4 * i, 4);
      out[i] = x;
    } else if (v.dtype == DType::i64) {
      std::memcpy(&out[i], v.bytes.data() + 8 * i, 8);
    } else if (v.dtype == DType::i8) {
      out[i] = static_cast<int8_t>(v.bytes[i]);
    } else {
      part_error(v, "should hold integers (I8, I32 or I64)");
    }
  }
  return out;
}

// Element i of a dense little-endian bit stream of `bits`-bit values held in words[0], words[stride],
// words[2 * stride], ... (a packed column when stride is the row length).
uint32_t stream_value(const uint32_t* words, int64_t stride, int64_t i, int bits) {
  const int64_t bit = i * bits;
  const int64_t word = bit / 32;
  const int offset = static_cast<int>(bit % 32);
  uint64_t v = words[word * stride];
  if (offset + bits > 32) v |= static_cast<uint64_t>(words[(word + 1) * stride]) << 32;
  return static_cast<uint32_t>(v >> offset) & ((1u << bits) - 1u);
}

std::vector<int32_t> group_index(const WeightSource& source, const std::string& name, int64_t inputs) {
  const TensorView* g = source.find(name);
  if (g == nullptr) return {};
  expect_shape(*g, {inputs}, "one group per input");
  std::vector<int32_t> out;
  for (const int64_t x : integers(*g)) out.push_back(static_cast<int32_t>(x));
  return out;
}

uint8_t zero_point(const TensorView& where, int64_t value) {
  if (value < 0 || value > 255) part_error(where, fmt::format("holds zero point {}, outside 0..255", value));
  return static_cast<uint8_t>(value);
}

RepackedMatrix finish(GroupedInts m, const TensorView& first) {
  RepackedMatrix r;
  r.rows = m.rows;
  r.columns = m.columns;
  r.origin = first.origin;
  r.packed = pack_grouped_ints(m, first.name);
  return r;
}

// The group size a GPTQ/AWQ config gives for `inputs` inputs, checked against the scales' group count.
int64_t config_group_size(const QuantizationConfig& config, const TensorView& scales, int64_t inputs) {
  const int64_t size = config.group_size <= 0 ? inputs : config.group_size;
  if (scales.shape[0] != (inputs + size - 1) / size) {
    part_error(scales, fmt::format("has {} groups, but {} inputs in groups of {} (quantization_config group_size) "
                                   "make {}",
                                   scales.shape[0], inputs, size, (inputs + size - 1) / size));
  }
  return size;
}

RepackedMatrix read_gptq(const WeightSource& source, const std::string& base, const QuantizationConfig& config,
                         const TensorView& qweight) {
  const int bits = static_cast<int>(config.bits);
  expect_rank(qweight, 2);
  const int64_t in = qweight.shape[0] * 32 / bits, out = qweight.shape[1];
  const TensorView& scales = require(source, base + ".scales", "GPTQ scales");
  expect_rank(scales, 2);
  if (scales.shape[1] != out) part_error(scales, fmt::format("should have {} columns, one per output", out));
  if (out * bits % 32 != 0) part_error(qweight, "has outputs that do not fill whole words of zero points");
  const TensorView& qzeros = require(source, base + ".qzeros", "GPTQ zero points");
  expect_shape(qzeros, {scales.shape[0], out * bits / 32}, "the zero points of every group, packed");
  GroupedInts m;
  m.rows = out;
  m.columns = in;
  m.bits = bits;
  m.groups = scales.shape[0];
  m.group_size = config_group_size(config, scales, in);
  m.group_of_input = group_index(source, base + ".g_idx", in);
  const std::vector<uint32_t> q = words(qweight), z = words(qzeros);
  const std::vector<float> s = floats(scales);
  m.q.resize(static_cast<size_t>(out * in));
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) m.q[static_cast<size_t>(o * in + i)] = static_cast<uint8_t>(stream_value(q.data() + o, out, i, bits));
  }
  // The original GPTQ format stores each zero point minus one (gptq_v2 does not).
  const int64_t zero_offset = config.checkpoint_format == "gptq_v2" ? 0 : 1;
  m.scales.resize(static_cast<size_t>(out * m.groups));
  m.zeros.resize(m.scales.size());
  const int64_t zero_words = out * bits / 32;
  for (int64_t g = 0; g < m.groups; ++g) {
    for (int64_t o = 0; o < out; ++o) {
      const size_t at = static_cast<size_t>(o * m.groups + g);
      m.scales[at] = s[static_cast<size_t>(g * out + o)];
      m.zeros[at] = zero_point(qzeros, stream_value(z.data() + g * zero_words, 1, o, bits) + zero_offset);
    }
  }
  return finish(std::move(m), qweight);
}

RepackedMatrix read_awq(const WeightSource& source, const std::string& base, const QuantizationConfig& config,
                        const TensorView& qweight) {
  // Output j of a word sits in its nibble kNibbleOf[j].
  constexpr std::array<int, 8> kNibbleOf = {0, 4, 1, 5, 2, 6, 3, 7};
  expect_rank(qweight, 2);
  const int64_t in = qweight.shape[0], out = qweight.shape[1] * 8;
  const TensorView& scales = require(source, base + ".scales", "AWQ scales");
  expect_rank(scales, 2);
  if (scales.shape[1] != out) part_error(scales, fmt::format("should have {} columns, one per output", out));
  const TensorView& qzeros = require(source, base + ".qzeros", "AWQ zero points");
  expect_shape(qzeros, {scales.shape[0], out / 8}, "the zero points of every group, packed");
  GroupedInts m;
  m.rows = out;
  m.columns = in;
  m.bits = 4;
  m.groups = scales.shape[0];
  m.group_size = config_group_size(config, scales, in);
  const std::vector<uint32_t> q = words(qweight), z = words(qzeros);
  const std::vector<float> s = floats(scales);
  const auto nibble = [&](const std::vector<uint32_t>& packed, int64_t row, int64_t o) {
    const uint32_t word = packed[static_cast<size_t>(row * (out / 8) + o / 8)];
    return static_cast<uint8_t>((word >> (4 * kNibbleOf[static_cast<size_t>(o % 8)])) & 0xFu);
  };
  m.q.resize(static_cast<size_t>(out * in));
  for (int64_t i = 0; i < in; ++i) {
    for (int64_t o = 0; o < out; ++o) m.q[static_cast<size_t>(o * in + i)] = nibble(q, i, o);
  }
  m.scales.resize(static_cast<size_t>(out * m.groups));
  m.zeros.resize(m.scales.size());
  for (int64_t g = 0; g < m.groups; ++g) {
    for (int64_t o = 0; o < out; ++o) {
      const size_t at = static_cast<size_t>(o * m.groups + g);
      m.scales[at] = s[static_cast<size_t>(g * out + o)];
      m.zeros[at] = nibble(z, g, o);
    }
  }
  return finish(std::move(m), qweight);
}

// compressed-tensors' weight_scale: [out, groups], [out, 1] (per channel) or a single value.
struct RowGroupScales {
  int64_t groups = 1;
  std::vector<float> values;  // out x groups
};

RowGroupScales row_group_scales(const TensorView& scale, int64_t out, int64_t in) {
  RowGroupScales r;
  const std::vector<float> s = floats(scale);
  if (s.size() == 1) {
    r.values.assign(static_cast<size_t>(out), s[0]);
    return r;
  }
  if (scale.shape.empty() || scale.shape[0] != out || scale.shape.size() > 2) {
    part_error(scale, fmt::format("should be one scale, [{}, 1] or [{}, groups]", out, out));
  }
  r.groups = scale.shape.size() == 2 ? scale.shape[1] : 1;
  if (in % r.groups != 0) part_error(scale, fmt::format("has {} groups, which do not divide {} inputs", r.groups, in));
  r.values = s;
  return r;
}

RepackedMatrix read_pack_quantized(const WeightSource& source, const std::string& base,
                                   const QuantizationConfig& config, const TensorView& packed) {
  const int bits = static_cast<int>(config.bits);
  expect_rank(packed, 2);
  const TensorView& shape = require(source, base + ".weight_shape", "the unpacked shape");
  const std::vector<int64_t> dims = integers(shape);
  if (dims.size() != 2) part_error(shape, "should hold the two dimensions of the unpacked weight");
  const int64_t out = dims[0], in = dims[1];
  expect_shape(packed, {out, (in * bits + 31) / 32}, fmt::format("{} inputs of {} bits per output", in, bits));
  const RowGroupScales scales = row_group_scales(require(source, base + ".weight_scale", "scales"), out, in);
  GroupedInts m;
  m.rows = out;
  m.columns = in;
  m.bits = bits;
  m.groups = scales.groups;
  m.group_size = in / scales.groups;
  m.scales = scales.values;
  m.group_of_input = group_index(source, base + ".weight_g_idx", in);
  const std::vector<uint32_t> q = words(packed);
  const int64_t row_words = packed.shape[1];
  m.q.resize(static_cast<size_t>(out * in));
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) {
      m.q[static_cast<size_t>(o * in + i)] = static_cast<uint8_t>(stream_value(q.data() + o * row_words, 1, i, bits));
    }
  }
  // Values are stored offset by 2^(bits-1); so are asymmetric zero points, packed along the outputs.
  m.zeros.assign(m.scales.size(), static_cast<uint8_t>(1u << (bits - 1)));
  if (const TensorView* zp = source.find(base + ".weight_zero_point")) {
    expect_shape(*zp, {(out * bits + 31) / 32, m.groups}, "the zero points of every group, packed along the outputs");
    const std::vector<uint32_t> z = words(*zp);
    for (int64_t o = 0; o < out; ++o) {
      for (int64_t g = 0; g < m.groups; ++g) {
        m.zeros[static_cast<size_t>(o * m.groups + g)] = static_cast<uint8_t>(stream_value(z.data() + g, m.groups, o, bits));
      }
    }
  }
  return finish(std::move(m), packed);
}

RepackedMatrix read_int8(const WeightSource& source, const std::string& base, const TensorView& weight) {
  expect_rank(weight, 2);
  const int64_t out = weight.shape[0], in = weight.shape[1];
  const RowGroupScales scales = row_group_scales(require(source, base + ".weight_scale", "int8 scales"), out, in);
  GroupedInts m;
  m.rows = out;
  m.columns = in;
  m.bits = 8;
  m.groups = scales.groups;
  m.group_size = in / scales.groups;
  m.scales = scales.values;
  m.q.resize(static_cast<size_t>(out * in));
  // Signed int8 as unsigned with an offset of 128, which the zero point carries too.
  for (size_t k = 0; k < m.q.size(); ++k) m.q[k] = static_cast<uint8_t>(static_cast<int>(static_cast<int8_t>(weight.bytes[k])) + 128);
  m.zeros.assign(m.scales.size(), 128);
  if (const TensorView* zp = source.find(base + ".weight_zero_point")) {
    const std::vector<int64_t> z = integers(*zp);
    if (z.size() != 1 && z.size() != m.zeros.size()) part_error(*zp, "should have one zero point per scale");
    for (size_t k = 0; k < m.zeros.size(); ++k) m.zeros[k] = zero_point(*zp, 128 + z[z.size() == 1 ? 0 : k]);
  }
  return finish(std::move(m), weight);
}

RepackedMatrix read_fp8(const WeightSource& source, const std::string& base, const QuantizationConfig& config,
                        const TensorView& weight) {
  expect_rank(weight, 2);
  const int64_t out = weight.shape[0], in = weight.shape[1];
  if (in % kBlock != 0) part_error(weight, "has inputs that are not a multiple of 32, the block Sabre repacks into");
  const TensorView* scale = source.find(base + ".weight_scale_inv");
  if (scale == nullptr) scale = source.find(base + ".weight_scale");
  if (scale == nullptr) {
    throw std::runtime_error(fmt::format("{}: FP8 tensor '{}' has neither weight_scale_inv nor weight_scale",
                                         weight.origin, weight.name));
  }
  const std::vector<float> s = floats(*scale);
  // The scale of row o, inputs [i, i + 32): per tensor, per row, per group of inputs, or per block.
  int64_t row_block = 1, column_block = in, scale_columns = 1;
  if (s.size() == 1) {
    row_block = out;
  } else if (scale->shape.size() == 1 || (scale->shape.size() == 2 && scale->shape[1] == 1)) {
    if (scale->shape[0] != out) part_error(*scale, fmt::format("should have one scale per output ({})", out));
  } else if (scale->shape.size() == 2) {
    scale_columns = scale->shape[1];
    if (config.weight_block_size.size() == 2) {
      row_block = config.weight_block_size[0];
      column_block = config.weight_block_size[1];
    } else if (scale->shape[0] == out && in % scale_columns == 0) {
      column_block = in / scale_columns;
    } else {
      part_error(*scale, "is a grid of block scales, but quantization_config has no weight_block_size");
    }
    expect_shape(*scale, {(out + row_block - 1) / row_block, (in + column_block - 1) / column_block},
                 fmt::format("one scale per {} x {} block", row_block, column_block));
    if (column_block % kBlock != 0) {
      part_error(*scale, fmt::format("scales blocks of {} inputs; Sabre needs a multiple of 32", column_block));
    }
  } else {
    part_error(*scale, "should be one scale, one per output or a grid of block scales");
  }
  RepackedMatrix r;
  r.rows = out;
  r.columns = in;
  r.origin = weight.origin;
  r.packed.type = ElementType::fp8_s;
  const int64_t blocks = in / kBlock;
  const size_t block_bytes = element_block_bytes(ElementType::fp8_s);
  r.packed.bytes.resize(static_cast<size_t>(out * blocks) * block_bytes);
  const auto* codes = reinterpret_cast<const uint8_t*>(weight.bytes.data());
  for (int64_t k = 0; k < out * in; ++k) {
    if ((codes[k] & 0x7F) == 0x7F) {
      part_error(weight, fmt::format("holds FP8's NaN code at element {} (row {}, input {})", k, k / in, k % in));
    }
  }
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t b = 0; b < blocks; ++b) {
      const float block_scale = s[static_cast<size_t>((o / row_block) * scale_columns + (b * kBlock) / column_block)];
      encode_fp8_s_block(block_scale, codes + o * in + b * kBlock,
                         r.packed.bytes.data() + static_cast<size_t>(o * blocks + b) * block_bytes);
    }
  }
  return r;
}

}  // namespace

std::span<const std::string_view> quantization_part_suffixes() {
  static constexpr std::array<std::string_view, 12> kSuffixes = {
      ".qweight",      ".qzeros",           ".scales",       ".g_idx",           ".weight_packed", ".weight_shape",
      ".weight_scale", ".weight_zero_point", ".weight_g_idx", ".weight_scale_inv", ".input_scale",   ".activation_scale"};
  return kSuffixes;
}

bool is_quantization_part(std::string_view name) {
  for (const std::string_view suffix : quantization_part_suffixes()) {
    if (name.ends_with(suffix)) return true;
  }
  return false;
}

std::optional<RepackedMatrix> read_quantized_matrix(const WeightSource& source, const std::string& base,
                                                    const QuantizationConfig& config) {
  if (const TensorView* qweight = source.find(base + ".qweight")) {
    if (config.method == "gptq") return read_gptq(source, base, config, *qweight);
    if (config.method == "awq") return read_awq(source, base, config, *qweight);
    part_error(*qweight, fmt::format("is a GPTQ/AWQ part, but quantization_config's quant_method is {}", config.method));
  }
  if (const TensorView* packed = source.find(base + ".weight_packed")) {
    return read_pack_quantized(source, base, config, *packed);
  }
  const TensorView* weight = source.find(base + ".weight");
  if (weight == nullptr) return std::nullopt;
  if (weight->dtype == DType::i8) return read_int8(source, base, *weight);
  if (weight->dtype == DType::f8_e4m3) return read_fp8(source, base, config, *weight);
  return std::nullopt;
}

}  // namespace sabre
