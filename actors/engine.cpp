#include "actors/engine.hpp"

#include <caf/all.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <unordered_map>

#include "actors/gpu_memory_plan.hpp"
#include "actors/rank_actor.hpp"
#include "actors/request_actor.hpp"
#include "actors/scheduler_actor.hpp"
#include "model/checkpoint.hpp"
#include "model/profile_step.hpp"
#include "kernels/backend_factory.hpp"
#include "model/tokenizer/tokenizer.hpp"
#include "model/transformer.hpp"

namespace sabre {

void add_engine_message_types(caf::actor_system_config& config) {
  config.add_message_type<GenerationRequest>("sabre.GenerationRequest");
  config.add_message_type<TokenDelta>("sabre.TokenDelta");
  config.add_message_type<GenerationFinished>("sabre.GenerationFinished");
  config.add_message_type<EngineInfo>("sabre.EngineInfo");
}

namespace {

// The backend and the model on it, kept together so the model's reference to its backend stays valid.
struct LoadedModel {
  std::unique_ptr<Backend> backend;
  std::unique_ptr<Transformer> model;
};

struct EngineState {
  // Not an aggregate, so CAF constructs it empty rather than from the actor pointer.
  EngineState() = default;
  static inline const char* name = "sabre.engine";
  scheduler_actor scheduler;
  RequestContext context;
  std::string model_name;
  std::unordered_map<std::string, request_actor> requests;
  uint64_t next_request = 1;
};

using EngineSelf = engine_actor::stateful_pointer<EngineState>;

engine_actor::behavior_type engine_behavior(EngineSelf self, scheduler_actor scheduler, RequestContext context,
                                            std::string model_name) {
  self->state.scheduler = scheduler;
  self->state.model_name = std::move(model_name);
  self->state.context = std::move(context);
  self->link_to(scheduler);
  self->set_down_handler([self](caf::down_msg& msg) {
    auto& requests = self->state.requests;
    for (auto it = requests.begin(); it != requests.end(); ++it) {
      if (it->second.address() == msg.source) {
        requests.erase(it);
        break;
      }
    }
  });
  return {
      [self](generate_atom, GenerationRequest& request, generation_sink& sink) -> std::string {
        auto& st = self->state;
        if (request.request_id.empty() || st.requests.count(request.request_id) != 0) {
          // Ids must be unique among live requests so that abort finds the right one.
          request.request_id = request.request_id.empty()
                                   ? fmt::format("req-{}", st.next_request++)
                                   : fmt::format("{}-{}", request.request_id, st.next_request++);
        }
        std::string id = request.request_id;
        request_actor actor = spawn_request(self->system(), std::move(request), std::move(sink), st.context);
        self->monitor(actor);
        st.requests.emplace(id, actor);
        return id;
      },
      [self](abort_atom, const std::string& request_id) {
        auto it = self->state.requests.find(request_id);
        if (it != self->state.requests.end()) self->send(it->second, abort_atom::value);
      },
      [self](info_atom) { return self->delegate(self->state.scheduler, info_atom::value); },
      [self](metrics_atom) -> std::string {
        const auto& st = self->state;
        return st.context.metrics ? render_prometheus(st.context.metrics->snapshot(), st.model_name) : std::string();
      },
  };
}

// What one step of this engine can hold: the scheduler's token budget and running sequences, one
// logits row per sequence, and a block table as long as max_model_len.
StepLimits step_limits(const SchedulerConfig& scheduler, const CacheConfig& cache) {
  StepLimits limits;
  limits.max_tokens = scheduler.max_num_batched_tokens;
  limits.max_sequences = scheduler.max_num_seqs;
  limits.max_logit_rows = scheduler.max_num_seqs;
  limits.max_blocks_per_sequence = (scheduler.max_model_len + cache.block_size - 1) / cache.block_size;
  return limits;
}

// --num-kv-blocks when given; on a GPU the share of its memory (gpu_memory_plan.hpp) after a profiling
// step; on the CPU the byte budget.
int64_t kv_blocks_for(const EngineOptions& options, Transformer& model, ElementType kv_dtype,
                      int64_t blocks_per_sequence) {
  if (options.cache.num_kv_blocks > 0) return options.cache.num_kv_blocks;
  const size_t per_block = model.kv_block_bytes(options.cache.block_size, kv_dtype);
  Backend& backend = model.backend();
  if (const auto before = backend.device_memory()) {
    GpuMemoryFigures figures;
    figures.total = before->total;
    figures.weights = model.weights().bytes();
    figures.free_before_profile = before->free;
    run_profile_step(model);
    figures.free_after_profile = backend.device_memory()->free;
    const KvCachePlan plan = plan_gpu_kv_cache(figures, options.cache.gpu_memory_utilization, per_block,
                                               options.cache.block_size, blocks_per_sequence);
    spdlog::info("{}", plan.summary);
    return plan.num_blocks;
  }
  return options.cache.kv_cache_bytes / static_cast<int64_t>(per_block);
}

int64_t resolved_max_model_len(const SchedulerConfig& scheduler, const ModelConfig& config) {
  if (scheduler.max_model_len <= 0) return config.max_position_embeddings;
  if (scheduler.max_model_len > config.max_position_embeddings) {
    throw std::runtime_error(fmt::format("max_model_len {} exceeds the model's context of {} tokens",
                                         scheduler.max_model_len, config.max_position_embeddings));
  }
  return scheduler.max_model_len;
}

RankOptions rank_options(int64_t num_blocks, int32_t block_size, ElementType kv_dtype) {
  RankOptions options{0, num_blocks, block_size, kv_dtype};
  if (const char* fault = std::getenv("SABRE_FAULT_INJECT_RANK_STEP")) {
    options.fail_at_step = std::strtoll(fault, nullptr, 10);
    spdlog::warn("fault injection: rank 0 fails its step {} (SABRE_FAULT_INJECT_RANK_STEP)", options.fail_at_step);
  }
  return options;
}

}  // namespace

engine_actor spawn_engine(caf::actor_system& system, const EngineOptions& options) {
  Checkpoint checkpoint = open_checkpoint(options.model, options.weights.load_format);
  auto served = std::make_shared<const ServedModel>(describe_served_model(checkpoint, options.tokenizer));
  return spawn_engine(system, options, std::move(checkpoint), std::move(served));
}

engine_actor spawn_engine(caf::actor_system& system, const EngineOptions& options, Checkpoint checkpoint,
                          std::shared_ptr<const ServedModel> served) {
  if (options.cache.block_size <= 0) {
    throw std::runtime_error(fmt::format("block size {} must be positive", options.cache.block_size));
  }
  EngineCoreOptions core;
  core.scheduler = options.scheduler;
  core.scheduler.max_model_len = resolved_max_model_len(options.scheduler, checkpoint.config);

  auto loaded = std::make_shared<LoadedModel>();
  loaded->backend = make_backend(options.device, options.weights.dtype, checkpoint.config.torch_dtype);
  loaded->model = std::make_unique<Transformer>(checkpoint.config, *checkpoint.weights, *loaded->backend,
                                                step_limits(core.scheduler, options.cache), options.weights);
  checkpoint.weights.reset();  // the backend holds the weights now: the mapped files can go
  std::shared_ptr<Transformer> model(loaded, loaded->model.get());
  const ElementType kv_dtype = kv_element_type(options.cache.kv_cache_dtype, loaded->backend->activation_type());
  const int64_t blocks_per_sequence =
      (core.scheduler.max_model_len + options.cache.block_size - 1) / options.cache.block_size;
  const int64_t num_blocks = kv_blocks_for(options, *model, kv_dtype, blocks_per_sequence);
  if (num_blocks < blocks_per_sequence) {
    throw std::runtime_error(fmt::format(
        "the KV cache holds {} blocks of {} tokens, fewer than one sequence of max_model_len {} needs ({}); "
        "give it more memory or lower max_model_len",
        num_blocks, options.cache.block_size, core.scheduler.max_model_len, blocks_per_sequence));
  }
  core.blocks.block_size = options.cache.block_size;
  core.blocks.num_blocks = static_cast<int32_t>(num_blocks);
  core.blocks.enable_prefix_caching = options.cache.enable_prefix_caching;
  core.model_name = options.served_model_name.empty() ? options.model.filename().string() : options.served_model_name;
  core.vocab_size = checkpoint.config.vocab_size;
  auto metrics = std::make_shared<EngineMetrics>();
  core.metrics = metrics;
  spdlog::info("engine: {} ({} layers), {} KV blocks of {} tokens in {} ({:.1f} MiB), max_model_len {}, batch budget {} "
               "tokens",
               core.model_name, checkpoint.config.num_hidden_layers, num_blocks, options.cache.block_size,
               element_type_name(kv_dtype),
               static_cast<double>(num_blocks) *
                   static_cast<double>(model->kv_block_bytes(options.cache.block_size, kv_dtype)) / (1 << 20),
               core.scheduler.max_model_len, core.scheduler.max_num_batched_tokens);

  RequestContext context;
  context.tokenizer = served->tokenizer;
  context.eos_token_ids = checkpoint.config.eos_token_ids;
  context.metrics = metrics;
  context.limits = {checkpoint.config.vocab_size, core.scheduler.max_model_len, core.scheduler.max_num_seqs,
                    options.cache.block_size, num_blocks};
  const std::string model_name = core.model_name;
  rank_actor rank = spawn_rank(system, model, rank_options(num_blocks, options.cache.block_size, kv_dtype));
  scheduler_actor scheduler = spawn_scheduler(system, std::move(core), {rank});
  context.scheduler = scheduler;
  return system.spawn(engine_behavior, scheduler, std::move(context), model_name);
}

void stop_engine(const engine_actor& engine) { caf::anon_send_exit(engine, caf::exit_reason::user_shutdown); }

}  // namespace sabre
