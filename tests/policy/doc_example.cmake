# Runs the example test file of docs/policy-language.md, section "Tests", through
# `idsvc-admin policy test` with the bundles of policies/, so that the example stays one
# that passes. Called by ctest as
#   cmake -DADMIN=... -DDOC=... -DPOLICIES=... -DOUTPUT=... -P doc_example.cmake
file(READ "${DOC}" text)

string(FIND "${text}" "\n## Tests\n" section)
if(section EQUAL -1)
  message(FATAL_ERROR "${DOC} has no section \"## Tests\"")
endif()
string(SUBSTRING "${text}" ${section} -1 text)

string(FIND "${text}" "```json\n" block_start)
if(block_start EQUAL -1)
  message(FATAL_ERROR "the section \"## Tests\" of ${DOC} has no json code block")
endif()
math(EXPR block_start "${block_start} + 8")
string(SUBSTRING "${text}" ${block_start} -1 text)
string(FIND "${text}" "\n```" block_end)
if(block_end EQUAL -1)
  message(FATAL_ERROR "the json code block of \"## Tests\" in ${DOC} is not closed")
endif()
math(EXPR block_end "${block_end} + 1")
string(SUBSTRING "${text}" 0 ${block_end} example)
file(WRITE "${OUTPUT}" "${example}")

execute_process(COMMAND "${ADMIN}" policy test "${POLICIES}" "${OUTPUT}"
                RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
message("${output}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "idsvc-admin policy test exited with ${status} on the example "
                      "of ${DOC}, written to ${OUTPUT}")
endif()
if(NOT output MATCHES " 0 failed")
  message(FATAL_ERROR "idsvc-admin policy test did not report 0 failed cases")
endif()
