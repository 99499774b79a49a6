#pragma once
// Every setting of the engine as plain structs, one per concern, each field with its one default. The
// command line (server_options.hpp), sabre-generate, the embedding API and the tests fill these in; the
// layers above read them and never choose a default of their own. Validation of a combination happens
// where it is used (the Scheduler checks SchedulerConfig, the engine checks the KV budget against the
// model), with messages that name the setting.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sabre {

// How a GGUF file's quantised matrices are kept. quantized: in the file's blocks, multiplied with
// directly (fewer bytes per decoded token); f32: dequantised at load into the model's float type (the
// reference path).
enum class GgufWeights { quantized, f32 };
std::string_view gguf_weights_name(GgufWeights mode);

// What the model's weights are kept in (vLLM's --dtype). automatic: the checkpoint's own type
// (config.json's torch_dtype: a bf16 checkpoint stays bf16 in memory, with no fp32 copy; a GGUF file's
// float tensors become fp32 and its Q8_0 / Q4_1 matrices stay quantised). bfloat16 / float16 / float32:
// the matrices and the embedding are converted to that type at load (norm weights and biases are small
// and stay fp32). The CPU backend computes activations and sums in fp32 whatever this says.
enum class ModelDtype { automatic, bfloat16, float16, float32 };
std::string_view model_dtype_name(ModelDtype dtype);
// "auto", "bfloat16", "float16", "float32" and vLLM's synonyms (bf16, half, fp16, float, fp32).
std::optional<ModelDtype> parse_model_dtype(std::string_view text);

// Where the weights come from (vLLM's --load-format). automatic: the checkpoint's files. dummy: random
// values of the checkpoint's shapes and dtype from its config.json alone (no weight files are read or
// needed): for measuring speed and memory on models one does not have.
enum class LoadFormat { automatic, dummy };
std::string_view load_format_name(LoadFormat format);
std::optional<LoadFormat> parse_load_format(std::string_view text);  // "auto" or "dummy"

// How a checkpoint's weights are kept in memory.
struct WeightOptions {
  ModelDtype dtype = ModelDtype::automatic;
  GgufWeights gguf = GgufWeights::quantized;
  LoadFormat load_format = LoadFormat::automatic;
};

// Where the model runs and how the backend computes.
struct DeviceOptions {
  std::string device = "cpu";    // "cpu" or "cuda"
  unsigned threads = 0;          // CPU threads; 0: every hardware thread
  // CPU: every row's result independent of what else shares the step (see CpuBackendOptions).
  bool batch_invariant = false;
  // CPU: decode quantised matrices with the exact fp32 kernels instead of int8 activations and integer
  // dot products (see CpuBackendOptions).
  bool exact_kernels = false;
  bool enable_cuda_graph = true;           // --disable-cuda-graph turns it off (CUDA only)
  int64_t cuda_graph_max_batch_size = 0;   // 0: max_num_seqs (CUDA only)
};

// The KV cache's element type (vLLM's --kv-cache-dtype). automatic: the type the backend computes
// attention in (fp32 on the CPU). The 8-bit types keep a scale per token and kv head.
enum class KvCacheDtype { automatic, bfloat16, float16, fp8_e4m3, int8 };
std::string_view kv_cache_dtype_name(KvCacheDtype dtype);
// "auto", "bfloat16" (bf16), "float16" (fp16, half), "fp8_e4m3" (fp8, fp8_e4m3fn), "int8".
std::optional<KvCacheDtype> parse_kv_cache_dtype(std::string_view text);

// The paged KV cache.
struct CacheConfig {
  int32_t block_size = 16;                      // tokens per KV block
  int64_t num_kv_blocks = 0;                    // 0: as many as the memory budget holds
  int64_t kv_cache_bytes = int64_t{1} << 30;    // the budget on a CPU
  double gpu_memory_utilization = 0.85;         // on a GPU: share of (device memory - weights) (BladeLLM)
  bool enable_prefix_caching = true;
  KvCacheDtype kv_cache_dtype = KvCacheDtype::automatic;
};

// The scheduling policy (actors/scheduler.hpp).
struct SchedulerConfig {
  int64_t max_num_batched_tokens = 2048;  // token budget of one step (the prefill chunk size)
  int64_t max_num_seqs = 256;             // running sequences at most
  int64_t max_waiting = 1024;             // requests beyond this many waiting are refused (overloaded)
  // Prompt + max_tokens at most. 0: the model's context (max_position_embeddings); the engine resolves
  // it before the Scheduler, which needs a number, is built.
  int64_t max_model_len = 0;
  // 2: the scheduler plans step N+1 while the ranks run step N (async scheduling); 1: one step at a time.
  int32_t max_steps_in_flight = 2;
  // Admission leaves at least this share of the pool's blocks free for the running sequences to grow
  // into, so that a new prompt does not force a preemption a few steps later (vLLM's watermark).
  // Ignored when nothing runs: a request the whole pool can hold always gets in.
  double watermark = 0.01;
  // Prompt logprobs need a logits row for every prompt token: a step computes at most this many such
  // rows (a prompt asking for them is prefilled in chunks of at most this size), which bounds the
  // logits buffer the ranks size at start. On SmolLM2 with 2 CPU cores, 64-token chunks made a
  // 512-token prefill about twice as slow as one chunk; 128 lost about a quarter.
  int64_t max_prompt_logprob_rows = 128;
  // A step the ranks have not answered this long after it was sent fails the engine (a hung device, a
  // lost worker): no request waits without a bound.
  double step_timeout_seconds = 600;
};

// What the engine does when a rank fails (an exception, a device error, a lost worker) or a step times
// out. Either way every request running then ends with an error and the ranks' collectives are aborted.
enum class RankFailurePolicy {
  stop,     // the engine stops (the server exits 1)
  restart,  // the engine loads its ranks again and serves new requests; 503 while it does
};

// Tensor parallelism: the model cut across tensor_parallel_size ranks (model/tensor_parallel.hpp), one
// thread each. With nnodes > 1 the ranks are spread over that many processes (machines), as many in
// each: node 0 is the engine's process, nodes 1.. are sabre-worker processes that join it at
// dist_init_addr.
struct ParallelConfig {
  int64_t tensor_parallel_size = 1;
  RankFailurePolicy on_rank_failure = RankFailurePolicy::stop;
  int64_t nnodes = 1;
  std::string dist_init_addr;  // HOST:PORT where the engine's process waits for the other nodes
  // The address this process's ranks listen on for their peers' collectives (Gloo); empty: dist_init_addr's
  // host, or 127.0.0.1 on a single node.
  std::string rank_host;

  int64_t ranks_per_node() const { return tensor_parallel_size / nnodes; }
};

// Speculative decoding (later work: refused at start until it exists).
struct SpeculativeConfig {
  std::filesystem::path draft_model;
  std::filesystem::path draft_tokenizer;
  int64_t num_steps = 4;   // tokens proposed per step
  std::string method;      // "" (none), "draft" or "ngram"
  // How a GGUF draft's matrices are kept: as stored (the draft's speed), or f32 (the target's own file
  // as its draft agrees with an f32 target everywhere: the mechanism's ceiling).
  GgufWeights draft_gguf = GgufWeights::quantized;
  // The rows a step's speculative decodes take together at most (each of n running sequences proposes
  // up to max_rows / n - 1): past the CPU's few-row kernels (16 rows) a step costs more per row than
  // the accepted tokens save.
  int64_t max_rows = 16;
  // No proposals while more sequences than this run (vLLM's speculative_disable_by_batch_size): a large
  // batch already shares each weight read among its rows. 0: speculate at any batch size.
  int64_t disable_by_batch_size = 0;

  // Speculation of either kind is asked for.
  bool enabled() const { return !method.empty() || !draft_model.empty(); }
  // A draft model proposes: --speculative-method draft, or a --draft-model without a method.
  bool drafts_with_model() const { return method == "draft" || (method.empty() && !draft_model.empty()); }
};

struct EngineOptions {
  std::filesystem::path model;           // HF model directory or .gguf file
  std::filesystem::path tokenizer;       // directory with tokenizer.json, when not beside the model
  std::string served_model_name;         // default: the model path's file name
  WeightOptions weights;
  DeviceOptions device;
  CacheConfig cache;
  SchedulerConfig scheduler;
  ParallelConfig parallel;
  SpeculativeConfig speculative;
};

}  // namespace sabre
