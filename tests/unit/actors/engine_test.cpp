// The engine as a client sees it: requests by message to the facade, tokens streamed back to a sink.
// Greedy outputs are checked against transformers' goldens of the tiny fixture models; the rest checks
// the protocol (stop conditions, n > 1, seeds, abort, clients that vanish, errors).
#include <catch2/catch.hpp>

#include <simdjson.h>

#include <map>
#include <string>
#include <thread>

#include "engine_test_support.hpp"

namespace sabre {
namespace {

using engine_test::fixture_model;
using engine_test::Golden;
using engine_test::load_golden;
using engine_test::greedy_request;
using engine_test::TestEngine;

EngineOptions small_engine(const std::string& model) {
  EngineOptions options;
  options.model = fixture_model(model);
  options.cache.num_kv_blocks = 64;
  options.device.batch_invariant = true;
  return options;
}

// Waits until the engine runs nothing and has freed every KV block (aborts are asynchronous messages).
bool kv_drains(TestEngine& engine) {
  for (int i = 0; i < 500; ++i) {
    const EngineInfo info = engine.info();
    if (info.kv_blocks_used == 0 && info.num_running == 0 && info.num_waiting == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

}  // namespace

TEST_CASE("engine: greedy generation reproduces transformers on the tiny models", "[engine]") {
  for (const char* model : {"llama_gqa_untied", "qwen2_bias", "qwen3_qknorm", "llama_rope_llama3"}) {
    INFO(model);
    const Golden golden = load_golden(model);
    TestEngine engine(small_engine(model));
    const auto result = engine.run_one(greedy_request(golden.prompt, static_cast<int64_t>(golden.greedy.size())));
    REQUIRE(result.samples.size() == 1);
    const auto& sample = result.samples[0];
    CHECK(sample.token_ids == golden.greedy);
    CHECK(sample.finished.finish_reason == FinishReason::length);
    CHECK(sample.finished.usage.prompt_tokens == static_cast<int64_t>(golden.prompt.size()));
    CHECK(sample.finished.usage.completion_tokens == static_cast<int64_t>(golden.greedy.size()));
    CHECK(sample.finished.timings.time_to_first_token > 0);
    CHECK(sample.finished.timings.end_to_end_seconds >= sample.finished.timings.time_to_first_token);
    CHECK(kv_drains(engine));
  }
}

TEST_CASE("engine: the KV cache's element type sizes the pool by its real bytes and serves the same ids",
          "[engine]") {
  const Golden golden = load_golden("qwen3_qknorm");
  std::map<std::string, int64_t> blocks;
  for (KvCacheDtype dtype : {KvCacheDtype::automatic, KvCacheDtype::bfloat16, KvCacheDtype::int8}) {
    const std::string name(kv_cache_dtype_name(dtype));
    INFO("--kv-cache-dtype " << name);
    EngineOptions options = small_engine("qwen3_qknorm");
    options.cache.num_kv_blocks = 0;
    options.cache.kv_cache_bytes = int64_t{4} << 20;
    options.cache.kv_cache_dtype = dtype;
    TestEngine engine(options);
    blocks[name] = engine.info().kv_blocks_total;
    const auto result = engine.run_one(greedy_request(golden.prompt, static_cast<int64_t>(golden.greedy.size())));
    // The bf16 and int8 caches follow transformers' greedy path on this model all the way
    // (kv_dtype_model_test.cpp measures how close their logits stay).
    CHECK(result.samples.at(0).token_ids == golden.greedy);
  }
  // qwen3_qknorm: 2 layers, 2 kv heads of 32 dims, blocks of 16: 16 KiB of fp32 keys and values per
  // block, 8 KiB of bf16, 4 KiB of int8 plus 512 B of scales.
  CHECK(blocks["auto"] == 256);
  CHECK(blocks["bfloat16"] == 512);
  CHECK(blocks["int8"] == 910);
}

TEST_CASE("engine: with async scheduling steps are planned while the one before runs, outputs unchanged", "[engine]") {
  const Golden golden = load_golden("llama_gqa_untied");
  for (const int32_t steps_in_flight : {1, 2}) {
    INFO("max_steps_in_flight " << steps_in_flight);
    EngineOptions options = small_engine("llama_gqa_untied");
    options.scheduler.max_steps_in_flight = steps_in_flight;
    TestEngine engine(options);
    const auto result = engine.run_one(greedy_request(golden.prompt, static_cast<int64_t>(golden.greedy.size())));
    CHECK(result.samples.at(0).token_ids == golden.greedy);
    const EngineInfo info = engine.info();
    // One prefill step, then one decode per further token.
    CHECK(info.num_steps == static_cast<int64_t>(golden.greedy.size()));
    if (steps_in_flight == 1) {
      CHECK(info.num_steps_planned_ahead == 0);
    } else {
      // Every decode after the first was planned while the step before it ran.
      CHECK(info.num_steps_planned_ahead == info.num_steps - 1);
    }
    CHECK(kv_drains(engine));
  }
}

TEST_CASE("engine: metrics count what the requests did", "[engine]") {
  const Golden golden = load_golden("llama_gqa_untied");
  TestEngine engine(small_engine("llama_gqa_untied"));
  std::vector<GenerationRequest> three(3, greedy_request(golden.prompt, 7));
  engine.run(three);
  const std::string text = engine.metrics();
  const std::string label = "{model_name=\"llama_gqa_untied\"}";
  CHECK_THAT(text, Catch::Contains("sabre:request_success_total{model_name=\"llama_gqa_untied\",finished_reason=\"length\"} 3"));
  CHECK_THAT(text, Catch::Contains("sabre:generation_tokens_total" + label + " 21"));
  CHECK_THAT(text, Catch::Contains("sabre:prompt_tokens_total" + label + " 30"));
  CHECK_THAT(text, Catch::Contains("sabre:time_to_first_token_seconds_count" + label + " 3"));
  CHECK_THAT(text, Catch::Contains("sabre:inter_token_latency_seconds_count" + label + " 18"));
  CHECK_THAT(text, Catch::Contains("sabre:request_queue_time_seconds_count" + label + " 3"));
  CHECK_THAT(text, Catch::Contains("sabre:num_requests_running" + label + " 0"));
  CHECK_THAT(text, Catch::Contains("sabre:kv_cache_blocks_total" + label + " 64"));
  // The second and third requests reuse the first one's prompt block (10 tokens: no full block).
  CHECK_THAT(text, Catch::Contains("sabre:prefix_cache_hit_blocks_total" + label + " 0"));
}

TEST_CASE("engine: stop token ids, eos and max_tokens end generation", "[engine]") {
  const Golden golden = load_golden("llama_gqa_untied");
  TestEngine engine(small_engine("llama_gqa_untied"));

  GenerationRequest stop_at = greedy_request(golden.prompt, 32);
  stop_at.sampling.stop_token_ids = {golden.greedy[4]};  // 39, first generated at index 2
  const auto first = std::find(golden.greedy.begin(), golden.greedy.end(), golden.greedy[4]);
  const std::vector<int32_t> expected(golden.greedy.begin(), first + 1);
  auto stopped = engine.run_one(stop_at).samples.at(0);
  CHECK(stopped.token_ids == expected);
  CHECK(stopped.finished.finish_reason == FinishReason::stop);

  // min_tokens masks the stop id until then: greedy picks the next best token instead.
  stop_at.sampling.min_tokens = 8;
  auto later = engine.run_one(stop_at).samples.at(0);
  CHECK(later.token_ids.size() >= 8);

  GenerationRequest short_one = greedy_request(golden.prompt, 5);
  auto length = engine.run_one(short_one).samples.at(0);
  CHECK(length.token_ids == std::vector<int32_t>(golden.greedy.begin(), golden.greedy.begin() + 5));
  CHECK(length.finished.finish_reason == FinishReason::length);
}

TEST_CASE("engine: stop strings cut the streamed text", "[engine]") {
  EngineOptions options = small_engine("qwen3_qknorm");
  options.tokenizer = fixture_model("byte_tokenizer");
  TestEngine engine(options);
  GenerationRequest request;
  request.prompt = "Hello, tiny model!";
  request.sampling.temperature = 0;
  request.max_tokens = 24;
  request.ignore_eos = true;
  const auto whole = engine.run_one(request).samples.at(0);
  REQUIRE(whole.token_ids.size() == 24);
  // A stop string taken from the middle of the reference text.
  const std::string& text = whole.text;
  REQUIRE(text.size() >= 12);
  const std::string stop = text.substr(6, 3);
  request.stop = {stop};
  const auto cut = engine.run_one(request).samples.at(0);
  CHECK(cut.text == text.substr(0, text.find(stop)));
  CHECK(cut.finished.finish_reason == FinishReason::stop);
  CHECK(cut.finished.stop_reason == stop);
  CHECK(cut.token_ids.size() < whole.token_ids.size());
  CHECK(kv_drains(engine));
}

TEST_CASE("engine: n samples share the prompt, and a seed fixes the output whatever the batch", "[engine]") {
  const Golden golden = load_golden("llama_gqa_untied");
  TestEngine engine(small_engine("llama_gqa_untied"));
  GenerationRequest sampled;
  sampled.prompt_token_ids = golden.prompt;
  sampled.sampling.temperature = 1.0;
  sampled.sampling.seed = 1234;
  sampled.has_seed = true;
  sampled.max_tokens = 20;
  sampled.ignore_eos = true;
  sampled.n = 3;
  const auto alone = engine.run_one(sampled);
  REQUIRE(alone.samples.size() == 3);
  for (const auto& s : alone.samples) {
    CHECK(s.token_ids.size() == 20);
    CHECK(s.finished.finish_reason == FinishReason::length);
  }
  CHECK(alone.samples[0].token_ids != alone.samples[1].token_ids);

  // The same request among others gives the same samples.
  std::vector<GenerationRequest> crowd(5, greedy_request(golden.prompt, 12));
  crowd[2] = sampled;
  const auto together = engine.run(crowd);
  for (size_t i = 0; i < 3; ++i) CHECK(together[2].samples[i].token_ids == alone.samples[i].token_ids);
  CHECK(kv_drains(engine));
}

TEST_CASE("engine: abort and a vanished client free the KV blocks", "[engine]") {
  const Golden golden = load_golden("llama_gqa_untied");
  EngineOptions options = small_engine("llama_gqa_untied");
  TestEngine engine(options);
  caf::scoped_actor self{*engine.system};

  // Abort by id while it runs.
  std::string id;
  self->request(engine.engine, caf::infinite, generate_atom::value, greedy_request(golden.prompt, 200),
                caf::actor_cast<generation_sink>(self))
      .receive([&](std::string& rid) { id = rid; }, [&](caf::error&) { FAIL("generate failed"); });
  bool got_delta = false;
  self->receive([&](TokenDelta&) { got_delta = true; }, caf::after(std::chrono::seconds(30)) >> [] {});
  REQUIRE(got_delta);
  self->send(engine.engine, abort_atom::value, id);
  std::string reason;
  self->receive_while([&] { return reason.empty(); })(
      [&](TokenDelta&) {}, [&](GenerationFinished& done) { reason = finish_reason_name(done.finish_reason); },
      caf::after(std::chrono::seconds(30)) >> [&] { reason = "timeout"; });
  CHECK(reason == "abort");
  CHECK(kv_drains(engine));

  // A sink that quits after its first delta: the request is aborted when it goes.
  auto impatient = engine.system->spawn([](caf::event_based_actor* sink) -> caf::behavior {
    return {[sink](TokenDelta&) { sink->quit(); }, [](GenerationFinished&) {}};
  });
  self->request(engine.engine, caf::infinite, generate_atom::value, greedy_request(golden.prompt, 200),
                caf::actor_cast<generation_sink>(impatient))
      .receive([&](std::string&) {}, [&](caf::error&) { FAIL("generate failed"); });
  self->wait_for(impatient);  // it has seen a token, so its request was running when it went
  CHECK(kv_drains(engine));
  const EngineInfo info = engine.info();
  CHECK(info.num_running == 0);
  CHECK(info.num_waiting == 0);
}

TEST_CASE("engine: bad requests get clear errors and change nothing", "[engine]") {
  const Golden golden = load_golden("llama_gqa_untied");
  EngineOptions options = small_engine("llama_gqa_untied");
  options.scheduler.max_model_len = 64;
  TestEngine engine(options);

  auto error_of = [&](const GenerationRequest& r) { return engine.run_one(r).samples.at(0).finished; };
  GenerationRequest bad_id = greedy_request({1, 2, 999}, 4);
  auto e = error_of(bad_id);
  CHECK(e.finish_reason == FinishReason::error);
  CHECK(e.error_type == "invalid_request_error");
  CHECK_THAT(e.error_message, Catch::Contains("999") && Catch::Contains("vocabulary"));

  GenerationRequest too_long = greedy_request(std::vector<int32_t>(60, 5), 10);
  e = error_of(too_long);
  CHECK(e.error_type == "invalid_request_error");
  CHECK_THAT(e.error_message, Catch::Contains("64"));

  GenerationRequest bad_temperature = greedy_request(golden.prompt, 4);
  bad_temperature.sampling.temperature = -1;
  CHECK_THAT(error_of(bad_temperature).error_message, Catch::Contains("temperature"));

  GenerationRequest no_prompt;
  no_prompt.max_tokens = 4;
  CHECK(error_of(no_prompt).error_type == "invalid_request_error");

  // Token ids a rank's sampler would throw on (which would stop the engine) are refused at its edge,
  // by field.
  GenerationRequest bad_bias = greedy_request(golden.prompt, 4);
  bad_bias.sampling.logit_bias = {{999, 1.0f}};
  e = error_of(bad_bias);
  CHECK(e.error_type == "invalid_request_error");
  CHECK(e.error_param == "logit_bias");
  GenerationRequest bad_stop = greedy_request(golden.prompt, 4);
  bad_stop.sampling.stop_token_ids = {999};
  CHECK(error_of(bad_stop).error_param == "stop_token_ids");

  // The engine still serves good requests afterwards.
  auto ok = engine.run_one(greedy_request(golden.prompt, 4)).samples.at(0);
  CHECK(ok.token_ids == std::vector<int32_t>(golden.greedy.begin(), golden.greedy.begin() + 4));
}

TEST_CASE("engine: a full waiting queue answers overloaded", "[engine]") {
  const Golden golden = load_golden("llama_gqa_untied");
  EngineOptions options = small_engine("llama_gqa_untied");
  options.scheduler.max_num_seqs = 1;
  options.scheduler.max_waiting = 2;
  TestEngine engine(options);
  std::vector<GenerationRequest> many(8, greedy_request(golden.prompt, 30));
  const auto results = engine.run(many);
  int overloaded = 0, finished = 0;
  for (const auto& r : results) {
    const auto& f = r.samples.at(0).finished;
    if (f.error_type == "overloaded") ++overloaded;
    if (f.finish_reason == FinishReason::length) {
      ++finished;
      CHECK(r.samples[0].token_ids == std::vector<int32_t>(golden.greedy.begin(), golden.greedy.begin() + 30));
    }
  }
  CHECK(overloaded > 0);
  CHECK(finished >= 3);
  CHECK(overloaded + finished == 8);
}

TEST_CASE("engine: a sample whose output cannot be detokenized ends alone, with an error, and frees its blocks",
          "[engine]") {
  const Golden golden = load_golden("llama_gqa_untied");
  TestEngine engine(small_engine("llama_gqa_untied"));
  // The third push of step output (over both requests) throws, as a tokenizer failure would.
  std::vector<engine_test::RequestResult> results;
  {
    const engine_test::ScopedEnv fault("SABRE_FAULT_INJECT_DETOKENIZE", "3");
    results = engine.run({greedy_request(golden.prompt, 30), greedy_request(golden.prompt, 30)});
  }
  REQUIRE(results.size() == 2);
  int failed = 0;
  int completed = 0;
  for (const auto& result : results) {
    REQUIRE(result.samples.size() == 1);
    const auto& sample = result.samples[0];
    if (sample.finished.finish_reason == FinishReason::error) {
      ++failed;
      CHECK(sample.finished.error_type == "internal_error");
      CHECK(sample.finished.error_message.find("detokeniz") != std::string::npos);
    } else {
      ++completed;
      CHECK(sample.finished.finish_reason == FinishReason::length);
      CHECK(sample.token_ids.size() == 30);
    }
  }
  CHECK(failed == 1);
  CHECK(completed == 1);
  CHECK(kv_drains(engine));
  // The engine goes on serving.
  CHECK(engine.run_one(greedy_request(golden.prompt, 4)).samples[0].finished.finish_reason == FinishReason::length);
}

}  // namespace sabre
