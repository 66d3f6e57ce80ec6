# The audit log's Merkle tree: published RFC 6962 vectors and randomised cross-checks.
if(TARGET idsvc_audit)
  add_library(idsvc_test_merkle_store STATIC ${CMAKE_CURRENT_LIST_DIR}/merkle_store.c)
  target_include_directories(idsvc_test_merkle_store PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(idsvc_test_merkle_store PUBLIC idsvc_audit PkgConfig::OPENSSL)

  idsvc_add_unit_test(test_audit_merkle_vectors
                      ${CMAKE_CURRENT_LIST_DIR}/test_merkle_vectors.c idsvc_test_merkle_store)
  idsvc_add_unit_test(test_audit_merkle_random
                      ${CMAKE_CURRENT_LIST_DIR}/test_merkle_random.c idsvc_test_merkle_store)
  idsvc_add_unit_test(test_audit_json ${CMAKE_CURRENT_LIST_DIR}/test_audit_json.c
                      idsvc_audit)
endif()

# The audit log on a real SQLite file with checkpoints signed in a SoftHSM2 token, and
# the daemon's audit routes, tampering and crash tests with idsvc-admin audit.
if(TARGET idsvc_audit AND TARGET idsvc_server)
  idsvc_add_unit_test(test_audit_log ${CMAKE_CURRENT_LIST_DIR}/test_audit_log.c
                      idsvc_test_merkle_store idsvc_server)
endif()
# The harness is declared by tests/server/tests.cmake, which is included after this
# fragment, so the daemon test is declared once the whole folder has been read.
function(audit_add_server_test)
  if(TARGET idsvc AND TARGET idsvc_server_harness AND TARGET idsvc-admin)
    idsvc_add_unit_test(test_audit_server ${AUDIT_TEST_DIR}/test_audit_server.c
                        idsvc_test_merkle_store idsvc_server_harness)
    add_dependencies(test_audit_server idsvc idsvc-admin)
    set_tests_properties(test_audit_server PROPERTIES
      ENVIRONMENT "${IDSVC_TEST_ENV};IDSVC_DAEMON=$<TARGET_FILE:idsvc>")

    # The anchor in the HSM: starts refused after a truncation or a new database, the
    # reset with idsvc-admin audit anchor, and the first anchor of an older log.
    idsvc_add_unit_test(test_audit_anchor ${AUDIT_TEST_DIR}/test_audit_anchor.c
                        idsvc_server_harness)
    add_dependencies(test_audit_anchor idsvc idsvc-admin)
    set_tests_properties(test_audit_anchor PROPERTIES
      ENVIRONMENT "${IDSVC_TEST_ENV};IDSVC_DAEMON=$<TARGET_FILE:idsvc>")
  endif()
endfunction()
set(AUDIT_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
cmake_language(DEFER CALL audit_add_server_test)

# idsvc-admin audit on a log written in process and edited in SQL, and the strict
# reading of every idsvc-admin number argument.
if(TARGET idsvc_audit AND TARGET idsvc_server AND TARGET idsvc-admin)
  idsvc_add_unit_test(test_audit_admin ${CMAKE_CURRENT_LIST_DIR}/test_audit_admin.c
                      idsvc_server)
  add_dependencies(test_audit_admin idsvc-admin)
endif()
