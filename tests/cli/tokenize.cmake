# CTest tests that drive sabre-tokenize and compare its output with what HF `tokenizers` gives on the
# same lines (tests/fixtures/tokenizer/cli_*, made by make_goldens.py). They need the reference
# tokenizers in SABRE_SHARED_DIR and are reported as skipped without them.
set(_tok_fixtures ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/tokenizer)
set(_tok_script ${CMAKE_CURRENT_SOURCE_DIR}/cli/tokenize/run_and_compare.cmake)
set(_tok_shared ${SABRE_SHARED_DIR}/models/tokenizers)

function(sabre_tokenize_cli_test name tokenizer flags expected)
  if(NOT EXISTS ${_tok_shared}/${tokenizer}/tokenizer.json)
    sabre_add_skipped_test(${name} "${_tok_shared}/${tokenizer} is missing")
    return()
  endif()
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:sabre-tokenize> -DTOKENIZER=${_tok_shared}/${tokenizer}
                   "-DFLAGS=${flags}" -DINPUT=${_tok_fixtures}/cli_input.jsonl -DEXPECTED=${expected}
                   -P ${_tok_script})
endfunction()

sabre_tokenize_cli_test(cli_tokenize_llama2_special llama2 --add-special-tokens
                        ${_tok_fixtures}/cli_expected_llama2_special.txt)
sabre_tokenize_cli_test(cli_tokenize_qwen3_plain qwen3 ""
                        ${_tok_fixtures}/cli_expected_qwen3_plain.txt)
sabre_tokenize_cli_test(cli_tokenize_llama3_1_special llama3_1 --add-special-tokens
                        ${_tok_fixtures}/cli_expected_llama3_1_special.txt)

# A line that is not a JSON string: exit code 1, stderr names line 3, the two lines before are answered.
if(EXISTS ${_tok_shared}/qwen3/tokenizer.json)
  add_test(NAME cli_tokenize_bad_line
           COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:sabre-tokenize> -DTOKENIZER=${_tok_shared}/qwen3
                   -DINPUT=${_tok_fixtures}/cli_bad_input.jsonl -DEXPECTED=${_tok_fixtures}/cli_bad_expected.txt
                   "-DEXPECT_ERROR=line 3: expected a JSON string"
                   -P ${_tok_script})
else()
  sabre_add_skipped_test(cli_tokenize_bad_line "${_tok_shared}/qwen3 is missing")
endif()
