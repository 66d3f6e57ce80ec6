# The audit log's Merkle tree: published RFC 6962 vectors and randomised cross-checks.
if(TARGET idsvc_audit)
  add_library(idsvc_test_merkle_store STATIC ${CMAKE_CURRENT_LIST_DIR}/merkle_store.c)
  target_include_directories(idsvc_test_merkle_store PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(idsvc_test_merkle_store PUBLIC idsvc_audit PkgConfig::OPENSSL)

  idsvc_add_unit_test(test_audit_merkle_vectors
                      ${CMAKE_CURRENT_LIST_DIR}/test_merkle_vectors.c idsvc_test_merkle_store)
  idsvc_add_unit_test(test_audit_merkle_random
                      ${CMAKE_CURRENT_LIST_DIR}/test_merkle_random.c idsvc_test_merkle_store)
endif()
