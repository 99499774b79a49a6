# sabre-server, the real binary on the tiny Qwen3 fixture: the seed deployment's curl call verbatim, API
# key checks, and SIGINT in the middle of a stream (final chunks, [DONE], exit 0). The HTTP behaviour in
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
    foreach(scenario seed_curl auth sigint_mid_stream)
      add_test(NAME cli_server_${scenario}
               COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cli/server/run_scenario.sh $<TARGET_FILE:sabre-server>
                       ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/models ${scenario})
      set_tests_properties(cli_server_${scenario} PROPERTIES PASS_REGULAR_EXPRESSION "PASS" FAIL_REGULAR_EXPRESSION "FAIL:"
                           TIMEOUT 120)
    endforeach()
  endif()
endif()
