# SAML verification: the public vectors, the attack battery and the checks of the
# validity window, audience, replay and trust store.
add_library(saml_test_util STATIC ${CMAKE_CURRENT_LIST_DIR}/saml_test_util.c)
target_link_libraries(saml_test_util PUBLIC idsvc_saml idsvc_test_support)

idsvc_add_unit_test(saml_vectors_test ${CMAKE_CURRENT_LIST_DIR}/saml_vectors_test.c
                    saml_test_util)
add_dependencies(saml_vectors_test idsvc-admin)

idsvc_add_unit_test(saml_attacks_test ${CMAKE_CURRENT_LIST_DIR}/saml_attacks_test.c
                    saml_test_util)
add_dependencies(saml_attacks_test idsvc-admin)

idsvc_add_unit_test(saml_checks_test ${CMAKE_CURRENT_LIST_DIR}/saml_checks_test.c
                    saml_test_util pthread)

idsvc_add_unit_test(saml_c14n_bounds_test ${CMAKE_CURRENT_LIST_DIR}/saml_c14n_bounds_test.c
                    saml_test_util idsvc_policy)
add_dependencies(saml_c14n_bounds_test idsvc-admin)
