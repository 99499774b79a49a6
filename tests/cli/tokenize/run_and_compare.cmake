# Runs sabre-tokenize on an input file and checks its answer (cmake -P script, driven by tokenize.cmake).
#   PROGRAM, TOKENIZER, INPUT   the program, the tokenizer directory, the stdin file
#   FLAGS                        extra arguments (a ;-list), may be empty
#   EXPECTED                     file the stdout must equal, or
#   EXPECT_ERROR                 a regex stderr must match, with a non-zero exit code
execute_process(COMMAND ${PROGRAM} --tokenizer ${TOKENIZER} ${FLAGS}
                INPUT_FILE ${INPUT}
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(DEFINED EXPECT_ERROR)
  if(rc EQUAL 0)
    message(FATAL_ERROR "expected a failure, got exit code 0; stdout:\n${out}")
  endif()
  if(NOT err MATCHES "${EXPECT_ERROR}")
    message(FATAL_ERROR "stderr does not match '${EXPECT_ERROR}':\n${err}")
  endif()
  if(DEFINED EXPECTED)
    file(READ ${EXPECTED} want)
    if(NOT out STREQUAL want)
      message(FATAL_ERROR "stdout before the error differs from ${EXPECTED}:\n${out}")
    endif()
  endif()
  return()
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "exit code ${rc}; stderr:\n${err}")
endif()
file(READ ${EXPECTED} want)
if(NOT out STREQUAL want)
  file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/tokenize_actual.txt "${out}")
  message(FATAL_ERROR "stdout differs from ${EXPECTED} (actual output written to "
                      "${CMAKE_CURRENT_BINARY_DIR}/tokenize_actual.txt)")
endif()
