# The enrollment, sign-in and consent routes against the real daemon, with the software
# authenticator of tests/webauthn. This fragment is included before server/ and
# webauthn/, so it declares its test once the whole tests/ folder has been read.
function(enroll_add_tests)
  if(NOT TARGET idsvc OR NOT TARGET idsvc_server_harness OR
     NOT TARGET webauthn_soft_authenticator)
    return()
  endif()
  idsvc_add_unit_test(test_enroll_api ${CMAKE_SOURCE_DIR}/tests/enroll/test_enroll_api.c
                      idsvc_server_harness webauthn_soft_authenticator)
  add_dependencies(test_enroll_api idsvc)
  set_tests_properties(test_enroll_api PROPERTIES
    ENVIRONMENT "${IDSVC_TEST_ENV};IDSVC_DAEMON=$<TARGET_FILE:idsvc>")
endfunction()
cmake_language(DEFER CALL enroll_add_tests)
