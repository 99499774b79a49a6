# CTest tests that drive sabre-generate on the tiny fixture models (tests/fixtures/models) and compare
# with transformers' greedy output (golden.json, cli_golden.json made by make_tiny_models.py and
# make_cli_goldens.py), plus its command-line errors.
set(_gen_models ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/models)
set(_gen_check ${CMAKE_CURRENT_SOURCE_DIR}/cli/generate/check_generate.cmake)

function(sabre_generate_test name)
  cmake_parse_arguments(T "" "EXIT;STDERR;CASE;GOLDEN_IDS" "ARGS" ${ARGN})
  string(REPLACE ";" "|" packed "${T_ARGS}")
  set(defs -DPROGRAM=$<TARGET_FILE:sabre-generate> "-DARGS=${packed}")
  if(DEFINED T_EXIT)
    list(APPEND defs -DEXPECT_EXIT=${T_EXIT})
  endif()
  if(DEFINED T_STDERR)
    list(APPEND defs "-DEXPECT_STDERR=${T_STDERR}")
  endif()
  if(DEFINED T_CASE)
    list(APPEND defs -DGOLDEN=${_gen_models}/cli_golden.json -DCASE=${T_CASE})
  endif()
  if(DEFINED T_GOLDEN_IDS)
    list(APPEND defs "-DGOLDEN_IDS=${T_GOLDEN_IDS}")
  endif()
  add_test(NAME cli_generate_${name} COMMAND ${CMAKE_COMMAND} ${defs} -P ${_gen_check})
endfunction()

# --prompt-ids, greedy, 32 tokens: HF's continuation (golden.json of the GQA model).
file(READ ${_gen_models}/llama_gqa_untied/golden.json _gen_golden)
string(JSON _gen_prompt GET "${_gen_golden}" prompt_ids)
string(JSON _gen_greedy GET "${_gen_golden}" greedy_ids)
string(REGEX REPLACE "[][ \n]" "" _gen_prompt_csv "${_gen_prompt}")
sabre_generate_test(prompt_ids_greedy
  ARGS --model ${_gen_models}/llama_gqa_untied --prompt-ids ${_gen_prompt_csv} --max-tokens 32 --temperature 0
       --ignore-eos --json
  GOLDEN_IDS "${_gen_greedy}")

# The same on 2 and 4 CPU ranks (tensor parallelism, Gloo between the rank threads): HF's ids.
foreach(_gen_tp 2 4)
  sabre_generate_test(tensor_parallel_${_gen_tp}
    ARGS --model ${_gen_models}/llama_gqa_untied --prompt-ids ${_gen_prompt_csv} --max-tokens 32 --temperature 0
         --ignore-eos --json --tp ${_gen_tp} --threads ${_gen_tp}
    GOLDEN_IDS "${_gen_greedy}")
endforeach()
sabre_generate_test(tensor_parallel_heads_do_not_divide
  ARGS --model ${_gen_models}/llama_gqa_untied --prompt-ids 1,2 --tp 3
  EXIT 1 STDERR "8 attention heads do not divide among 3 ranks")

# A bf16 checkpoint kept in bf16 (auto), and widened with --dtype float32: both give the float64
# reference's ids on its bf16 weights (tests/fixtures/models/bf16, make_bf16_models.py).
file(READ ${_gen_models}/bf16/llama_gqa_untied/golden.json _gen_bf16_golden)
string(JSON _gen_bf16_greedy GET "${_gen_bf16_golden}" greedy_ids)
foreach(_gen_dtype auto float32)
  sabre_generate_test(bf16_dtype_${_gen_dtype}
    ARGS --model ${_gen_models}/bf16/llama_gqa_untied --prompt-ids ${_gen_prompt_csv} --max-tokens 32 --temperature 0
         --ignore-eos --json --dtype ${_gen_dtype}
    GOLDEN_IDS "${_gen_bf16_greedy}")
endforeach()
sabre_generate_test(bad_dtype ARGS --model ${_gen_models}/bf16/llama_gqa_untied --prompt-ids 1 --dtype int3
  EXIT 2 STDERR "--dtype must be auto, bfloat16, float16 or float32")

# Quantised safetensors checkpoints (tests/fixtures/models/quantized, make_quantized_models.py): the float64
# reference's greedy ids on their dequantised weights (fixtures whose every step's top-2 margin is over
# 0.005), on one rank and on two (where act-order's row-parallel matrices are widened at load).
foreach(_gen_quant gptq_4bit_g32_act_order fp8_block_32 ct_w4a16_g32_asym)
  file(READ ${_gen_models}/quantized/${_gen_quant}/golden.json _gen_quant_golden)
  string(JSON _gen_quant_greedy GET "${_gen_quant_golden}" greedy_ids)
  foreach(_gen_tp 1 2)
    sabre_generate_test(quantized_${_gen_quant}_tp${_gen_tp}
      ARGS --model ${_gen_models}/quantized/${_gen_quant} --prompt-ids ${_gen_prompt_csv} --max-tokens 32
           --temperature 0 --ignore-eos --json --tp ${_gen_tp} --threads ${_gen_tp} --exact-kernels
      GOLDEN_IDS "${_gen_quant_greedy}")
  endforeach()
endforeach()

# Text prompts through the tiny byte-level tokenizer, plain and through the chat template.
sabre_generate_test(prompt_text
  ARGS --model ${_gen_models}/qwen3_qknorm --tokenizer ${_gen_models}/byte_tokenizer "--prompt" "Hello, tiny model!"
       --max-tokens 16 --temperature 0 --json
  CASE 0)
sabre_generate_test(chat
  ARGS --model ${_gen_models}/llama_rope_llama3 --tokenizer ${_gen_models}/byte_tokenizer --chat
       "--prompt" "What is the capital of France?" --max-tokens 16 --temperature 0 --json
  CASE 1)

# Command-line mistakes: exit code 2 and a message naming the problem.
sabre_generate_test(unknown_flag ARGS --model m --prompt-ids 1 --frobnicate EXIT 2 STDERR "unknown option '--frobnicate'")
sabre_generate_test(no_prompt ARGS --model m EXIT 2 STDERR "exactly one of --prompt")
sabre_generate_test(bad_ids ARGS --model m --prompt-ids 1,x,3 EXIT 2 STDERR "--prompt-ids expects")
sabre_generate_test(bad_top_p ARGS --model m --prompt-ids 1 --top-p 1.5 EXIT 2 STDERR "--top-p must be in (0, 1]")
sabre_generate_test(missing_value ARGS --model m --prompt-ids EXIT 2 STDERR "--prompt-ids needs a value")
sabre_generate_test(bad_device ARGS --model m --prompt-ids 1 --device tpu EXIT 2 STDERR "--device 'tpu' is unknown")
sabre_generate_test(bad_gguf_weights ARGS --model m --prompt-ids 1 --gguf-weights q4 EXIT 2 STDERR "--gguf-weights must be quantized or f32")
# Runtime failures: exit code 1 with the reason.
sabre_generate_test(missing_model ARGS --model ${_gen_models}/no_such_model --prompt-ids 1 EXIT 1 STDERR "does not exist")
sabre_generate_test(id_outside_vocab ARGS --model ${_gen_models}/qwen2_bias --prompt-ids 1,999 EXIT 1
  STDERR "token id 999")
sabre_generate_test(no_tokenizer ARGS --model ${_gen_models}/qwen2_bias --prompt hi EXIT 1 STDERR "needs a tokenizer")

# Speculative decoding in BladeLLM's spelling (--decode_algo sps --draft.model --gamma): another tiny model
# of the vocabulary drafts, the target's greedy ids (HF's) are kept.
sabre_generate_test(speculative_bladellm_spelling
  ARGS --model ${_gen_models}/llama_gqa_untied --prompt-ids ${_gen_prompt_csv} --max-tokens 32 --temperature 0
       --ignore-eos --json --decode_algo sps --draft.model ${_gen_models}/qwen2_bias --gamma 3
  GOLDEN_IDS "${_gen_greedy}")
sabre_generate_test(speculative_sps_without_draft
  ARGS --model ${_gen_models}/llama_gqa_untied --prompt-ids 1,2 --decode-algo sps
  EXIT 2 STDERR "--speculative-method draft needs --draft-model PATH")
