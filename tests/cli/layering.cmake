# The layering rules (scripts/check-layering): no folder includes one above it, and the OpenAI codec
# includes no CAF header, even indirectly.
add_test(NAME layering COMMAND ${CMAKE_SOURCE_DIR}/scripts/check-layering ${CMAKE_CXX_COMPILER}
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
set_tests_properties(layering PROPERTIES PASS_REGULAR_EXPRESSION "every rule holds")
