# Integration tests of the idsvc daemon: the real daemon on a free loopback port with a
# fresh SoftHSM2 token, a fresh SQLite file and demo certificates, called through curl
# and a raw GnuTLS client. test_server_openapi compares the route table with
# schemas/openapi.json and the daemon's replies with the document (openapi_check.c).
# Unit tests of the configuration reader run without a daemon.
if(TARGET idsvc)
  set(SERVER_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})

  add_library(idsvc_server_harness STATIC ${SERVER_TEST_DIR}/server_harness.c
              ${SERVER_TEST_DIR}/openapi_check.c)
  target_include_directories(idsvc_server_harness PUBLIC ${SERVER_TEST_DIR})
  # idsvc_server brings GnuTLS and jansson, whose imported targets live in idsvc/.
  target_link_libraries(idsvc_server_harness PUBLIC idsvc_test_support idsvc_server)

  function(server_add_test name)
    idsvc_add_unit_test(${name} ${SERVER_TEST_DIR}/${name}.c ${ARGN})
    add_dependencies(${name} idsvc)
    set_tests_properties(${name} PROPERTIES
      ENVIRONMENT "${IDSVC_TEST_ENV};IDSVC_DAEMON=$<TARGET_FILE:idsvc>")
  endfunction()

  server_add_test(test_server_api idsvc_server_harness)
  server_add_test(test_server_policy idsvc_server_harness)
  server_add_test(test_server_policy_reload idsvc_server_harness)
  server_add_test(test_server_state idsvc_server_harness)
  server_add_test(test_server_saml idsvc_server_harness)
  server_add_test(test_server_conditions idsvc_server_harness)
  server_add_test(test_server_held_claims idsvc_server_harness)
  server_add_test(test_server_crash idsvc_server_harness)
  server_add_test(test_server_listeners idsvc_server_harness)
  server_add_test(test_server_stop idsvc_server_harness)
  server_add_test(test_server_deadline idsvc_server_harness)
  server_add_test(test_server_framing idsvc_server_harness)
  server_add_test(test_server_roles idsvc_server_harness)
  server_add_test(test_server_config idsvc_server)
  server_add_test(test_server_openapi idsvc_server_harness)
  server_add_test(test_server_store idsvc_server)
  server_add_test(test_server_mutation idsvc_server_harness)

  # The HSM and disk failures: the daemon loads the PKCS#11 wrapper module.
  server_add_test(test_server_faults idsvc_server_harness)
  target_compile_definitions(test_server_faults PRIVATE
    P11_TEST_WRAP_MODULE="$<TARGET_FILE:p11_test_wrap>")
  add_dependencies(test_server_faults p11_test_wrap)

  # Clock steps: the daemon runs under Debian's libfaketime (package faketime). Without
  # it the test skips itself.
  find_file(IDSVC_FAKETIME_LIBRARY libfaketimeMT.so.1
            PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/faketime /usr/lib/faketime)
  server_add_test(test_server_clock idsvc_server_harness)
  target_compile_definitions(test_server_clock PRIVATE
    IDSVC_FAKETIME_LIBRARY="${IDSVC_FAKETIME_LIBRARY}")
  server_add_test(test_server_clock_start idsvc_server_harness)
  target_compile_definitions(test_server_clock_start PRIVATE
    IDSVC_FAKETIME_LIBRARY="${IDSVC_FAKETIME_LIBRARY}")
endif()
