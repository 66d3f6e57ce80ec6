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

idsvc_add_unit_test(saml_schema_values_test
                    ${CMAKE_CURRENT_LIST_DIR}/saml_schema_values_test.c saml_test_util)
add_dependencies(saml_schema_values_test idsvc-admin)

idsvc_add_unit_test(saml_c14n_bounds_test ${CMAKE_CURRENT_LIST_DIR}/saml_c14n_bounds_test.c
                    saml_test_util idsvc_policy)
add_dependencies(saml_c14n_bounds_test idsvc-admin)

# Fails each allocation of a verification in turn: libxml2's through xmlMemSetup, and
# those of idsvc's own code through the linker's --wrap, which only this program uses.
idsvc_add_unit_test(saml_alloc_test ${CMAKE_CURRENT_LIST_DIR}/saml_alloc_test.c
                    saml_test_util)
target_link_options(saml_alloc_test PRIVATE -Wl,--wrap=malloc -Wl,--wrap=calloc
                    -Wl,--wrap=realloc -Wl,--wrap=strdup -Wl,--wrap=xmlCtxtReadMemory
                    -Wl,--wrap=xmlSecDSigCtxVerify)
