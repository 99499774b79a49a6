#pragma once
// The operations the Llama/Qwen forward pass needs, implemented once per device: kernels/cpu now,
// kernels/cuda later. The model (model/transformer.cpp) is written only against this interface, as a
// model library is written against its tensor library, so a new backend never touches the model code.
//
// What a new backend implements:
// - memory: typed buffers (allocate, upload, write, download), a paged KV block pool of a chosen element
//   type (create_kv_cache, kv_block_bytes, copy_kv_blocks);
// - the step (kernels/step.hpp): prepare() sizes the step buffers once for StepLimits; upload_step()
//   copies one StepDescription into them per step; padded_rows() says how many rows a step computes;
// - the operations below, which read the current step (token ids, positions, slots, block tables,
//   context lengths, logits rows) from those buffers instead of taking host arrays;
// - sampling (kernels/sampling.hpp): samplers registered per sequence, the distribution of a logits row,
//   a counter-based draw, the commit; only ids and log-probabilities come back to the host.
//
// Pointers passed to the operations live in the backend's memory space: buffers come from allocate() /
// upload(), and only download() brings values back to the host. Activations (the void* arguments) hold
// activation_type() elements (fp32 on the CPU; bf16 or fp16 on a GPU), row-major, one row per step row
// (padding included); norm weights, biases, the RoPE table and logits are fp32 everywhere. A "row
// stride" lets an operation work on one part of a fused row (the q, k or v part of a fused QKV
// projection) in place.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernels/communicator.hpp"
#include "kernels/device_buffer.hpp"
#include "kernels/element_type.hpp"
#include "kernels/kv_cache.hpp"
#include "kernels/sampling.hpp"
#include "kernels/step.hpp"

namespace sabre {

// A linear layer as Hugging Face stores it: weight [out_features, in_features] row-major (y = x W^T + b);
// bias is nullptr when the layer has none. `weight` holds out_features rows of in_features elements of
// `type`: f32, bf16, f16, or the packed q8_0 / q4_1 blocks (in_features a multiple of 32).
struct LinearWeight {
  const void* weight = nullptr;
  const float* bias = nullptr;
  int64_t out_features = 0;
  int64_t in_features = 0;
  ElementType type = ElementType::f32;
  // Elements from one output row to the next (0: out_features): a part of a stacked matrix kept in its
  // own type writes its columns of the whole output (Backend::multiplies_split_matrices).
  int64_t y_stride = 0;
  // The input each stored column multiplies (input_order[j] for column j), or null when in order: a
  // repacked act-order GPTQ matrix keeps its groups contiguous this way (Backend::permutes_linear_inputs).
  const int32_t* input_order = nullptr;

  int64_t output_stride() const { return y_stride > 0 ? y_stride : out_features; }
};

// Where the heads of q (or k) sit inside a row: `heads` runs of `head_dim` values starting at `offset`
// in rows of `row_stride` values.
struct HeadLayout {
  int64_t heads = 0;
  int64_t head_dim = 0;
  int64_t offset = 0;
  int64_t row_stride = 0;
};

// A device's memory as its runtime reports it (for sizing the KV cache from a share of it).
struct DeviceMemoryInfo {
  size_t free = 0;
  size_t total = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // The type activations are kept and attention computed in (fp32 on the CPU): what the void* activation
  // arguments hold, and what a KV cache of "auto" type stores.
  virtual ElementType activation_type() const = 0;
  // The float type the backend multiplies a model's matrices in when asked for `requested` (f32, bf16 or
  // f16): the CPU reads all three; a backend whose GEMMs need weights of the activations' type says so.
  virtual ElementType weight_float_type(ElementType requested) const { return requested; }
  // Whether the backend multiplies matrices of a packed (GGUF block) type as stored; a matrix of a type
  // it does not is widened to weight_float_type at load.
  virtual bool multiplies_packed(ElementType packed) const = 0;
  // Whether linear() honours LinearWeight::y_stride, so the parts of a stacked matrix (q, k and v rows;
  // gate and up) stored in different block formats can each stay in its own, written side by side.
  virtual bool multiplies_split_matrices() const { return false; }
  // Whether linear() honours LinearWeight::input_order; a reordered matrix is otherwise widened at load
  // with its columns put back in order.
  virtual bool permutes_linear_inputs() const { return false; }

  // The collectives of a tensor-parallel group this backend is one rank of, on its memory (Gloo for the
  // CPU; NCCL on the backend's stream for CUDA). Blocks until every rank has joined.
  virtual std::unique_ptr<Communicator> create_communicator(const CommunicatorOptions& options) = 0;

  // ---- memory ----
  // `elements` of `type`, contents unspecified.
  virtual std::unique_ptr<DeviceBuffer> allocate(ElementType type, int64_t elements) = 0;
  std::unique_ptr<DeviceBuffer> allocate(int64_t floats) { return allocate(ElementType::f32, floats); }
  // A buffer of `elements` of `type` holding `bytes` (exactly element_bytes(type, elements) of them).
  virtual std::unique_ptr<DeviceBuffer> upload(ElementType type, int64_t elements,
                                               std::span<const std::byte> bytes) = 0;
  std::unique_ptr<DeviceBuffer> upload(std::span<const float> host) {
    return upload(ElementType::f32, static_cast<int64_t>(host.size()), std::as_bytes(host));
  }
  // The same for a host array the caller no longer needs: a host-memory backend may adopt it.
  virtual std::unique_ptr<DeviceBuffer> upload(std::vector<float>&& host) { return upload(std::span<const float>(host)); }
  // Overwrites the start of `buffer` with `bytes` (at most buffer.bytes()).
  virtual void write(DeviceBuffer& buffer, std::span<const std::byte> bytes) = 0;
  // The device's memory now, after waiting for its work; none for a backend in host memory (the CPU's
  // KV cache is sized by a byte budget instead).
  virtual std::optional<DeviceMemoryInfo> device_memory() { return std::nullopt; }
  // Copies host.size() bytes from `source` (backend memory) to the host, and waits for them.
  virtual void download(const void* source, std::span<std::byte> host) = 0;
  void download(const float* source, std::span<float> host) {
    download(static_cast<const void*>(source), std::as_writable_bytes(host));
  }

  // A pool of shape.num_blocks KV blocks. Throws std::invalid_argument for an empty shape or an element
  // type the backend cannot store, and std::bad_alloc when the memory is not there.
  virtual std::unique_ptr<KvCache> create_kv_cache(const KvCacheShape& shape) = 0;
  // The memory one block of `shape` takes (all layers, keys and values, scales included), for sizing a
  // pool from a memory budget; shape.num_blocks is ignored.
  virtual size_t kv_block_bytes(const KvCacheShape& shape) const = 0;
  // Applies the copies in order (all layers, keys and values); ids are checked against the pool.
  virtual void copy_kv_blocks(KvCache& cache, std::span<const KvBlockCopy> copies) = 0;

  // ---- the step ----
  // Sizes the step buffers (and whatever per-step workspace the backend keeps) for steps within
  // `limits`. Called before the first step; a backend shared by several models keeps the largest limits.
  virtual void prepare(const StepLimits& limits) = 0;
  virtual const StepLimits& limits() const = 0;
  // How many rows a step of `rows` real rows computes: a backend replaying captured graphs pads a decode
  // step to a size it captured; the CPU backend computes the rows as they are.
  virtual int64_t padded_rows(int64_t rows) const { return rows; }
  // How many logits rows a step of `padded_rows` rows computes when `logit_rows` are asked for: a backend
  // replaying a captured graph computes a fixed number per size (the extra ones repeat a real row and are
  // never sampled); the CPU computes what is asked.
  virtual int64_t logit_rows_computed(int64_t logit_rows, int64_t padded_rows) const { return logit_rows; }
  // Runs the current step's operations, which `ops` issues: directly, or on a GPU by replaying the graph
  // recorded for this step's size (recording it from `ops` the first time). `ops` must issue the same
  // operations on the same buffers for every step of a size, reading the step only through the step
  // buffers, as the contract's operations do.
  virtual void run_step(const std::function<void()>& ops) { ops(); }
  // Copies the step into the buffers prepare() sized: the one transfer of step metadata per step.
  // Throws std::invalid_argument for a description that is malformed or exceeds the limits
  // (check_step), or whose block tables or slots fall outside its KV pool.
  virtual void upload_step(const StepDescription& step) = 0;

  // ---- operations (on the current step) ----
  // out[r] = row token_ids[r] - first_id of `table` (table_rows rows of `dim` elements of `type`: the
  // vocabulary rows first_id .. first_id + table_rows - 1) for every row; zeros for an id outside them
  // (a tensor-parallel rank holds a slice of the vocabulary).
  virtual void embedding(const void* table, ElementType type, int64_t dim, int64_t first_id, int64_t table_rows,
                         void* out) = 0;
  // y[rows, out] = x[rows, in] W^T (+ b), W of any LinearWeight type.
  virtual void linear(const void* x, int64_t rows, const LinearWeight& w, void* y) = 0;
  // The LM head: logits[rows, vocab] = x W^T, as fp32 (what sampling reads on every backend).
  virtual void logits(const void* x, int64_t rows, const LinearWeight& w, float* logits) = 0;
  // y = x / rms(x) * weight per row of `dim` (y may equal x).
  virtual void rms_norm(const void* x, int64_t rows, int64_t dim, const float* weight, float eps, void* y) = 0;
  // x += residual, then y = rms_norm(x): a layer's residual addition and the next norm in one pass.
  virtual void add_rms_norm(void* x, const void* residual, int64_t rows, int64_t dim, const float* weight, float eps,
                            void* y) = 0;
  // The same per head, in place (Qwen3's q_norm / k_norm), weight has head_dim values.
  virtual void head_rms_norm(void* x, int64_t rows, const HeadLayout& heads, const float* weight, float eps) = 0;
  // cos_sin[r] = [cos(p * f) ..., sin(p * f) ...] * attention_scaling for p = positions[r] and the
  // head_dim/2 frequencies f (`inv_freq`, in the backend's memory); computed once per step, shared by
  // every layer.
  virtual void rope_table(std::span<const float> inv_freq, float attention_scaling, float* cos_sin) = 0;
  // Rotates every head in place with Hugging Face's rotate_half pairing (i, i + head_dim/2).
  virtual void apply_rope(void* x, int64_t rows, const HeadLayout& heads, const float* cos_sin) = 0;
  // Writes each real row's keys and values at layer `layer` into its slot (slot_mapping) of the step's pool.
  virtual void store_kv(int64_t layer, const void* x, const HeadLayout& k, const HeadLayout& v) = 0;
  // Causal attention of each sequence's rows over its keys and values, read through its block table
  // (its row i sees positions 0 .. context_len - rows + i), grouped-query (q head h reads kv head
  // h / (q heads / kv heads)). out: rows of q.heads * head_dim; padding rows are left as they are.
  virtual void attention(int64_t layer, const void* x, const HeadLayout& q, float scale, void* out) = 0;
  // out[rows, inter] = silu(gate) * up where gate_up rows are [gate (inter) | up (inter)].
  virtual void silu_mul(const void* gate_up, int64_t rows, int64_t inter, void* out) = 0;
  // x += y over n values.
  virtual void add(void* x, const void* y, size_t n) = 0;
  // out[i] = x[logit_rows[i]] for rows of `dim` values.
  virtual void gather_logit_rows(const void* x, int64_t dim, void* out) = 0;
  // logits[r] = the ranks' vocabulary slices of row r side by side, from `gathered` (shards blocks of
  // rows x shard_vocab, as an all-gather leaves them), cut at `vocab` (the last slice may be padding).
  virtual void gather_vocab_shards(const float* gathered, int64_t shards, int64_t rows, int64_t shard_vocab,
                                   int64_t vocab, float* logits) = 0;

  // ---- sampling (kernels/sampling.hpp) ----
  // Registers samplers (one of the same key is replaced, its history dropped) and forgets them (unknown
  // keys are ignored).
  virtual void add_samplers(std::span<const SamplerSpec> specs) = 0;
  virtual void release_samplers(std::span<const uint64_t> keys) = 0;
  // For each row, in order: its distribution over its row of `logits` (rows of `vocab` floats in the
  // backend's memory), the draw numbered by the sampler's history and the row's provisional tokens, and
  // the commit unless the row says not to. out[i] (host memory) is row i's token with its raw
  // log-probabilities. Throws std::invalid_argument for a row naming an unregistered sampler or a logits
  // row out of range, and whatever a sampler throws (every token masked, ids outside the vocabulary).
  virtual void sample(const float* logits, int64_t logit_rows, int64_t vocab, std::span<const SampleRow> rows,
                      std::vector<SampledToken>& out) = 0;
  // Each row's processed distribution as `vocab` probabilities (zero outside its candidates, summing to
  // one) into `probabilities` (backend memory, rows.size() x vocab). Changes no sampler.
  virtual void distributions(const float* logits, int64_t logit_rows, int64_t vocab, std::span<const SampleRow> rows,
                             float* probabilities) = 0;
  // Appends tokens to samplers' histories, in order.
  virtual void commit(std::span<const CommittedToken> tokens) = 0;
};

}  // namespace sabre
