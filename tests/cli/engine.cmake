# The engine's example programs, run on a tiny fixture model: sabre-embed (the engine inside another
# CAF application) streams and finishes every request; sabre-bench-engine completes both phases.
set(_engine_models ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/models)

add_test(NAME cli_embed_streams_requests
  COMMAND sabre-embed --model ${_engine_models}/qwen3_qknorm --tokenizer ${_engine_models}/byte_tokenizer
          --max-tokens 8 --threads 1 "Hello, tiny model!" "A second request" "And a third")
set_tests_properties(cli_embed_streams_requests PROPERTIES
  PASS_REGULAR_EXPRESSION "finished: length after 8 tokens.*finished: length after 8 tokens.*finished: length after 8 tokens"
  FAIL_REGULAR_EXPRESSION "error"
  TIMEOUT 120)

# The engine embedded with its model cut across two ranks.
add_test(NAME cli_embed_tensor_parallel
  COMMAND sabre-embed --model ${_engine_models}/qwen3_qknorm --tokenizer ${_engine_models}/byte_tokenizer
          --max-tokens 8 --threads 2 --tp 2 "Hello, tiny model!" "A second request")
set_tests_properties(cli_embed_tensor_parallel PROPERTIES
  PASS_REGULAR_EXPRESSION "on 2 ranks.*finished: length after 8 tokens.*finished: length after 8 tokens"
  FAIL_REGULAR_EXPRESSION "error"
  TIMEOUT 120)

add_test(NAME cli_embed_bad_model COMMAND sabre-embed --model ${_engine_models}/does_not_exist)
set_tests_properties(cli_embed_bad_model PROPERTIES
  PASS_REGULAR_EXPRESSION "does_not_exist"
  WILL_FAIL FALSE TIMEOUT 60)

add_test(NAME cli_bench_engine_runs
  COMMAND sabre-bench-engine --model ${_engine_models}/llama_gqa_untied --requests 4 --prompt-tokens 12
          --max-tokens 6 --threads 1)
set_tests_properties(cli_bench_engine_runs PROPERTIES
  PASS_REGULAR_EXPRESSION "throughput gain of concurrent over one-by-one: [0-9.]+x"
  TIMEOUT 120)
