# The policy engine: properties over generated requests, schema and meaning rejections,
# signed bundles and the loader on a real SoftHSM2 token, the idsvc-admin policy
# subcommands, and the table-driven cases of policies/tests and the example of
# docs/policy-language.md run through `policy test`.
if(TARGET idsvc_policy)
  idsvc_add_unit_test(test_policy_engine ${CMAKE_CURRENT_LIST_DIR}/test_policy_engine.c
                      idsvc_policy)
  idsvc_add_unit_test(test_policy_store ${CMAKE_CURRENT_LIST_DIR}/test_policy_store.c
                      idsvc_policy pthread)
  idsvc_add_unit_test(test_policy_admin ${CMAKE_CURRENT_LIST_DIR}/test_policy_admin.c
                      idsvc_policy)

  add_test(NAME policy_rule_tables
           COMMAND idsvc-admin policy test ${CMAKE_SOURCE_DIR}/policies
                   ${CMAKE_SOURCE_DIR}/policies/tests)
  set_tests_properties(policy_rule_tables PROPERTIES ENVIRONMENT "${IDSVC_TEST_ENV}")

  add_test(NAME policy_language_example
           COMMAND ${CMAKE_COMMAND} -DADMIN=$<TARGET_FILE:idsvc-admin>
                   -DDOC=${CMAKE_SOURCE_DIR}/docs/policy-language.md
                   -DPOLICIES=${CMAKE_SOURCE_DIR}/policies
                   -DOUTPUT=${CMAKE_CURRENT_BINARY_DIR}/policy-language-example.json
                   -P ${CMAKE_CURRENT_LIST_DIR}/doc_example.cmake)
  set_tests_properties(policy_language_example PROPERTIES ENVIRONMENT "${IDSVC_TEST_ENV}")
endif()
