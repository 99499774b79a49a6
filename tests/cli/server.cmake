# sabre-server, the real binary on the tiny Qwen3 fixture: the seed deployment's curl call verbatim, API
# key checks, SIGINT in the middle of a stream (final chunks, [DONE], exit 0), and a rank that fails
# (an error event and [DONE] to the client, the server stops by itself with exit status 1). The HTTP behaviour in
# detail is tested in-process by tests/unit/http.
if(TARGET sabre-server)
  find_program(SABRE_CURL curl)
  add_test(NAME cli_server_help COMMAND sabre-server --help)
  set_tests_properties(cli_server_help PROPERTIES PASS_REGULAR_EXPRESSION "--api-key")
  add_test(NAME cli_server_bad_flag COMMAND sh -c "\"$0\" --frobnicate 2>&1; echo \"exit=$?\"" $<TARGET_FILE:sabre-server>)
  set_tests_properties(cli_server_bad_flag PROPERTIES PASS_REGULAR_EXPRESSION "--frobnicate.*exit=2")
  add_test(NAME cli_server_missing_model
           COMMAND sh -c "\"$0\" --model /nonexistent/model 2>&1; echo \"exit=$?\"" $<TARGET_FILE:sabre-server>)
  set_tests_properties(cli_server_missing_model PROPERTIES PASS_REGULAR_EXPRESSION "/nonexistent/model.*exit=[12]")
  if(SABRE_CURL)
    foreach(scenario seed_curl auth sigint_mid_stream overloaded engine_failure tp_rank_failure tp_restart draft_model)
      add_test(NAME cli_server_${scenario}
               COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/server/run_scenario.sh $<TARGET_FILE:sabre-server>
                       ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/models ${scenario})
      set_tests_properties(cli_server_${scenario} PROPERTIES PASS_REGULAR_EXPRESSION "PASS" FAIL_REGULAR_EXPRESSION "FAIL:"
                           TIMEOUT 120)
    endforeach()

    # The official `openai` Python client (PyPI) against the daemon, when an interpreter with it is at hand:
    # SABRE_OPENAI_PYTHON, else /tmp/openai-venv, else python3 if it can import openai.
    set(SABRE_OPENAI_PYTHON "" CACHE FILEPATH "A Python interpreter with the openai package, for the client tests")
    set(_openai_python "${SABRE_OPENAI_PYTHON}")
    if(NOT _openai_python)
      foreach(candidate /tmp/openai-venv/bin/python python3)
        find_program(_candidate_path NAMES ${candidate} NO_CACHE)
        if(_candidate_path)
          execute_process(COMMAND ${_candidate_path} -c "import openai" RESULT_VARIABLE _has_openai
                          OUTPUT_QUIET ERROR_QUIET)
          if(_has_openai EQUAL 0)
            set(_openai_python ${_candidate_path})
            break()
          endif()
        endif()
        unset(_candidate_path)
      endforeach()
    endif()
    if(_openai_python)
      add_test(NAME cli_server_openai_client
               COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/server/run_scenario.sh $<TARGET_FILE:sabre-server>
                       ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/models openai_client)
      set_tests_properties(cli_server_openai_client PROPERTIES ENVIRONMENT "OPENAI_PYTHON=${_openai_python}"
                           PASS_REGULAR_EXPRESSION "PASS" FAIL_REGULAR_EXPRESSION "FAIL:" TIMEOUT 120)
      # Prompt logprobs against transformers' logits of the fixture.
      add_test(NAME cli_server_prompt_logprobs
               COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/server/run_scenario.sh $<TARGET_FILE:sabre-server>
                       ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/models prompt_logprobs)
      set_tests_properties(cli_server_prompt_logprobs PROPERTIES ENVIRONMENT "OPENAI_PYTHON=${_openai_python}"
                           PASS_REGULAR_EXPRESSION "PASS" FAIL_REGULAR_EXPRESSION "FAIL:" TIMEOUT 120)
      # Guided decoding, judged by independent validators (Python's jsonschema and re).
      execute_process(COMMAND ${_openai_python} -c "import jsonschema" RESULT_VARIABLE _has_jsonschema
                      OUTPUT_QUIET ERROR_QUIET)
      if(_has_jsonschema EQUAL 0)
        add_test(NAME cli_server_guided
                 COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/server/run_scenario.sh $<TARGET_FILE:sabre-server>
                         ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/models guided)
        set_tests_properties(cli_server_guided PROPERTIES ENVIRONMENT "OPENAI_PYTHON=${_openai_python}"
                             PASS_REGULAR_EXPRESSION "PASS" FAIL_REGULAR_EXPRESSION "FAIL:" TIMEOUT 300)
      else()
        sabre_add_skipped_test(cli_server_guided "no jsonschema package beside openai (.ci/run installs both)")
      endif()
    else()
      sabre_add_skipped_test(cli_server_openai_client
                             "no Python with the openai package (set SABRE_OPENAI_PYTHON; .ci/run makes one)")
      sabre_add_skipped_test(cli_server_guided
                             "no Python with the openai package (set SABRE_OPENAI_PYTHON; .ci/run makes one)")
      sabre_add_skipped_test(cli_server_prompt_logprobs
                             "no Python with the openai package (set SABRE_OPENAI_PYTHON; .ci/run makes one)")
    endif()
  else()
    foreach(scenario seed_curl auth sigint_mid_stream overloaded engine_failure tp_rank_failure tp_restart draft_model
                     openai_client guided prompt_logprobs)
      sabre_add_skipped_test(cli_server_${scenario} "no curl (scripts/install-deps installs it)")
    endforeach()
  endif()
endif()
