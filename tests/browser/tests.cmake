# The citizen pages in headless Chromium (Debian's chromium package) driven by
# playwright-core, against a real node that browser_node starts through the server
# test harness. The fragment is included before server/, so the test is declared once
# the whole tests/ folder has been read.
function(browser_add_tests)
  if(NOT TARGET idsvc OR NOT TARGET idsvc_server_harness)
    return()
  endif()
  add_executable(browser_node ${CMAKE_SOURCE_DIR}/tests/browser/browser_node.c)
  target_link_libraries(browser_node PRIVATE idsvc_server_harness)
  add_dependencies(browser_node idsvc)
  add_test(NAME browser_pages
           COMMAND sh ${CMAKE_SOURCE_DIR}/tests/browser/run-browser-test.sh)
  set_tests_properties(browser_pages PROPERTIES TIMEOUT 600 ENVIRONMENT
    "${IDSVC_TEST_ENV};IDSVC_DAEMON=$<TARGET_FILE:idsvc>;IDSVC_BROWSER_NODE=$<TARGET_FILE:browser_node>;IDSVC_BROWSER_ARTIFACTS=${CMAKE_BINARY_DIR}/browser-artifacts")
endfunction()
cmake_language(DEFER CALL browser_add_tests)
