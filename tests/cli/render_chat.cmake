# CTest tests that drive `sabre-tokenize --render-chat` and compare its output with what transformers'
# apply_chat_template(tokenize=False) rendered for the same requests (tests/fixtures/chat/cli_render_*,
# made by make_goldens.py). The tokenizer_config.json copies in tests/fixtures/chat/ are all they need.
set(_chat_fixtures ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/chat)
set(_chat_compare ${CMAKE_CURRENT_SOURCE_DIR}/cli/tokenize/run_and_compare.cmake)

foreach(_model qwen3 llama3_1 smollm2)
  add_test(NAME cli_render_chat_${_model}
           COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:sabre-tokenize> -DTOKENIZER=${_chat_fixtures}/${_model}
                   -DFLAGS=--render-chat -DINPUT=${_chat_fixtures}/cli_render_input.jsonl
                   -DEXPECTED=${_chat_fixtures}/cli_render_expected_${_model}.txt
                   -P ${_chat_compare})
endforeach()

# A request without "messages": exit code 1, stderr names line 3, the two lines before are answered.
add_test(NAME cli_render_chat_bad_line
         COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:sabre-tokenize> -DTOKENIZER=${_chat_fixtures}/qwen3
                 -DFLAGS=--render-chat -DINPUT=${_chat_fixtures}/cli_render_bad_input.jsonl
                 -DEXPECTED=${_chat_fixtures}/cli_render_bad_expected_qwen3.txt
                 "-DEXPECT_ERROR=line 3: request: missing 'messages'"
                 -P ${_chat_compare})

# A model without a chat template (Llama 2's tokenizer_config.json) is refused with a clear message.
if(EXISTS ${SABRE_SHARED_DIR}/models/tokenizers/llama2/tokenizer_config.json)
  add_test(NAME cli_render_chat_no_template
           COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:sabre-tokenize>
                   -DTOKENIZER=${SABRE_SHARED_DIR}/models/tokenizers/llama2
                   -DFLAGS=--render-chat -DINPUT=${_chat_fixtures}/cli_render_input.jsonl
                   "-DEXPECT_ERROR=this model has no chat template"
                   -P ${_chat_compare})
else()
  sabre_add_skipped_test(cli_render_chat_no_template "${SABRE_SHARED_DIR}/models/tokenizers/llama2 is missing")
endif()
