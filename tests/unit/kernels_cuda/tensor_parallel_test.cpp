// Tensor parallelism on GPUs: NCCL collectives (a group of one, and one rank per visible GPU), and the
// tiny fixtures' fp32 greedy ids on 2 and 4 GPU ranks equal transformers'. Skips without a GPU (the
// multi-GPU cases without enough GPUs); SABRE_CUDA_TESTS_ON_CPU=1 runs the collectives' plumbing on CPU
// ranks (Gloo) instead.

#include <simdjson.h>

#include <thread>

#include "cuda_test_support.hpp"
#include "model/generator.hpp"
#include "model/rank_group.hpp"

namespace sabre {
namespace {

using namespace cuda_test;

// Runs body(rank's backend, communicator) on `size` ranks, one thread each (GPU `rank` on a GPU), and
// rethrows the first failure.
void on_ranks(int size, const std::function<void(Backend&, Communicator&)>& body) {
  auto store = make_local_store();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(size));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < size; ++rank) {
    threads.emplace_back([&, rank] {
      try {
        std::unique_ptr<Backend> backend;
        if (cuda::device_count() > 0) {
          CudaBackendOptions options;
          options.device = rank;
          options.activation = ElementType::f32;
          backend = std::make_unique<CudaBackend>(options);
        } else {
          backend = std::make_unique<CpuBackend>(CpuBackendOptions{.threads = 1, .exact_kernels = true});
        }
        CommunicatorOptions options;
        options.rank = rank;
        options.world_size = size;
        options.store = store;
        options.timeout = std::chrono::seconds(60);
        auto communicator = backend->create_communicator(options);
        body(*backend, *communicator);
      } catch (...) {
        errors[static_cast<size_t>(rank)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

bool have_ranks(int needed) {
  if (cuda::device_count() >= needed) return true;
  if (cuda::device_count() == 0 && on_cpu_instead()) return true;
  WARN("SKIPPED: " << needed << " GPU ranks need " << needed << " GPUs, " << cuda::device_count() << " visible");
  return false;
}

}  // namespace

TEST_CASE("cuda: NCCL all-reduce, all-gather, broadcast and barrier over one rank and one rank per GPU",
          "[cuda][tp]") {
  const int gpus = std::max(1, cuda::device_count());
  for (const int size : {1, gpus > 1 ? gpus : 1, 2}) {
    if (!have_ranks(size)) return;
    INFO(size << " ranks");
    on_ranks(size, [&](Backend& backend, Communicator& c) {
      CHECK(c.name() == (cuda::device_count() > 0 ? "nccl" : "gloo"));
      std::vector<float> values(1000);
      for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(c.rank() + 1) * static_cast<float>(i);
      auto buffer = put(backend, values);
      c.all_reduce_sum(buffer->raw(), static_cast<int64_t>(values.size()), ElementType::f32);
      const auto summed = get(backend, *buffer, values.size());
      const float ranks_sum = static_cast<float>(size * (size + 1) / 2);
      for (size_t i = 0; i < values.size(); ++i) REQUIRE(summed[i] == ranks_sum * static_cast<float>(i));

      auto mine = put(backend, {static_cast<float>(c.rank()), 10.0f * static_cast<float>(c.rank())});
      auto all = put(backend, std::vector<float>(2 * static_cast<size_t>(size), -1.0f));
      c.all_gather(mine->raw(), all->raw(), 2, ElementType::f32);
      const auto gathered = get(backend, *all, 2 * static_cast<size_t>(size));
      for (int r = 0; r < size; ++r) {
        REQUIRE(gathered[2 * static_cast<size_t>(r)] == static_cast<float>(r));
        REQUIRE(gathered[2 * static_cast<size_t>(r) + 1] == 10.0f * static_cast<float>(r));
      }
      auto root = put(backend, {static_cast<float>(c.rank()), 7.5f});
      c.broadcast(root->raw(), 2, ElementType::f32, size - 1);
      CHECK(get(backend, *root, 2)[0] == static_cast<float>(size - 1));
      c.barrier();
    });
  }
}

TEST_CASE("cuda: fp32 greedy ids of the tiny fixtures on 2 and 4 GPU ranks equal transformers'", "[cuda][tp][model]") {
  for (const int ranks : {2, 4}) {
    if (cuda::device_count() < ranks) {
      WARN("SKIPPED: " << ranks << " GPU ranks need " << ranks << " GPUs, " << cuda::device_count() << " visible");
      return;
    }
    for (const char* name : {"llama_gqa_untied", "qwen2_bias", "qwen3_qknorm"}) {
      INFO(name << " on " << ranks << " GPU ranks");
      const std::filesystem::path dir = fixtures_dir() / "models" / name;
      Checkpoint checkpoint = open_checkpoint(dir);
      EngineOptions options;
      options.device.device = "cuda";
      options.weights.dtype = ModelDtype::float32;
      options.parallel.tensor_parallel_size = ranks;
      options.cache.num_kv_blocks = 1;  // generate() gives the sequence a KV cache of its own
      const RankGroup group = load_rank_group(options, checkpoint, {}, 1);
      simdjson::dom::parser parser;
      const simdjson::dom::element golden = parser.load((dir / "golden.json").string());
      std::vector<int32_t> prompt, greedy;
      for (int64_t id : golden["prompt_ids"].get_array()) prompt.push_back(static_cast<int32_t>(id));
      for (int64_t id : golden["greedy_ids"].get_array()) greedy.push_back(static_cast<int32_t>(id));
      GenerationOptions generation;
      generation.max_new_tokens = static_cast<int64_t>(greedy.size());
      generation.sampling.temperature = 0;
      generation.ignore_eos = true;
      std::vector<std::vector<int32_t>> tokens(static_cast<size_t>(ranks));
      std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks));
      std::vector<std::thread> threads;
      for (int r = 0; r < ranks; ++r) {
        threads.emplace_back([&, r] {
          try {
            tokens[static_cast<size_t>(r)] = generate(*group.models[static_cast<size_t>(r)], prompt, generation).tokens;
          } catch (...) {
            errors[static_cast<size_t>(r)] = std::current_exception();
            group.abort_collectives();
          }
        });
      }
      for (auto& t : threads) t.join();
      for (auto& e : errors) {
        if (e) std::rethrow_exception(e);
      }
      for (const auto& t : tokens) CHECK(t == greedy);
    }
  }
}

}  // namespace sabre
