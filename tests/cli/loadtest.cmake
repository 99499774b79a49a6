# CTest tests of sabre-loadtest's command line: --help, a bad flag (exit 2, naming it), an unreachable
# server (exit 1, naming the URL). Its measurements are tested in tests/unit/loadtest against a fake
# streaming server.
if(TARGET sabre-loadtest)
  add_test(NAME cli_loadtest_help COMMAND sabre-loadtest --help)
  set_tests_properties(cli_loadtest_help PROPERTIES PASS_REGULAR_EXPRESSION "Usage: sabre-loadtest")

  # sh prints the exit status so the regular expression can check message and status together.
  function(sabre_loadtest_cli_test name expect)
    add_test(NAME cli_loadtest_${name}
             COMMAND sh -c "\"$0\" \"$@\" 2>&1; echo \"exit=$?\"" $<TARGET_FILE:sabre-loadtest> ${ARGN})
    set_tests_properties(cli_loadtest_${name} PROPERTIES PASS_REGULAR_EXPRESSION "${expect}")
  endfunction()
  sabre_loadtest_cli_test(unknown_flag "unknown flag '--frobnicate'.*exit=2"
                          --num-requests 1 --max-concurrency 1 --dataset random:4:4 --frobnicate)
  sabre_loadtest_cli_test(bad_dataset "--dataset: expected random:IN:OUT or sharegpt:FILE.*exit=2"
                          --num-requests 1 --max-concurrency 1 --dataset nonsense)
  sabre_loadtest_cli_test(no_arrival_mode "--request-rate or --max-concurrency.*exit=2"
                          --num-requests 1 --dataset random:4:4)
  sabre_loadtest_cli_test(unreachable "cannot connect to http://127.0.0.1:1: Connection refused.*exit=1"
                          --url http://127.0.0.1:1 --num-requests 1 --max-concurrency 1 --dataset random:4:4)
  sabre_loadtest_cli_test(missing_sharegpt "/nonexistent/sg.json.*exit=1"
                          --num-requests 1 --max-concurrency 1 --dataset sharegpt:/nonexistent/sg.json)
endif()
