# The enrollment, sign-in and consent routes against the real daemon, with the software
# authenticator of tests/webauthn, without and with the policy engine. This fragment is included before server/ and
# webauthn/, so it declares its test once the whole tests/ folder has been read.
function(enroll_add_tests)
  if(NOT TARGET idsvc OR NOT TARGET idsvc_server_harness OR
     NOT TARGET webauthn_soft_authenticator)
    return()
  endif()
  add_library(enroll_page_client STATIC ${CMAKE_SOURCE_DIR}/tests/enroll/page_client.c)
  target_include_directories(enroll_page_client PUBLIC ${CMAKE_SOURCE_DIR}/tests/enroll)
  target_link_libraries(enroll_page_client PUBLIC idsvc_server_harness
                        webauthn_soft_authenticator)

  idsvc_add_unit_test(test_enroll_api ${CMAKE_SOURCE_DIR}/tests/enroll/test_enroll_api.c
                      enroll_page_client)
  add_dependencies(test_enroll_api idsvc)
  set_tests_properties(test_enroll_api PROPERTIES
    ENVIRONMENT "${IDSVC_TEST_ENV};IDSVC_DAEMON=$<TARGET_FILE:idsvc>")

  # Revocation, expiry and NameID ownership across issuance, enrollment and consent.
  idsvc_add_unit_test(test_credential_lifecycle
                      ${CMAKE_SOURCE_DIR}/tests/enroll/test_credential_lifecycle.c
                      enroll_page_client)
  add_dependencies(test_credential_lifecycle idsvc)
  set_tests_properties(test_credential_lifecycle PROPERTIES
    ENVIRONMENT "${IDSVC_TEST_ENV};IDSVC_DAEMON=$<TARGET_FILE:idsvc>")

  # Consent that the policy engine asks for, with signed bundles and the pages.
  idsvc_add_unit_test(test_policy_consent ${CMAKE_SOURCE_DIR}/tests/enroll/test_policy_consent.c
                      enroll_page_client)
  add_dependencies(test_policy_consent idsvc idsvc-admin)
  set_tests_properties(test_policy_consent PROPERTIES
    ENVIRONMENT "${IDSVC_TEST_ENV};IDSVC_DAEMON=$<TARGET_FILE:idsvc>")
endfunction()
cmake_language(DEFER CALL enroll_add_tests)
