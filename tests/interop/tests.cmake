# SAML signing: unit tests of the signer's inputs, the canonical-bytes proof against
# libxml2, and interop with the xmlsec1 command line in both directions.
idsvc_add_unit_test(saml_claims_test ${CMAKE_CURRENT_LIST_DIR}/saml_claims_test.c
                    idsvc_saml)

add_library(idsvc_interop_keys STATIC ${CMAKE_CURRENT_LIST_DIR}/interop_keys.c)
target_link_libraries(idsvc_interop_keys PUBLIC idsvc_test_support idsvc_p11)

idsvc_add_unit_test(saml_c14n_test ${CMAKE_CURRENT_LIST_DIR}/saml_c14n_test.c
                    idsvc_interop_keys idsvc_saml)

add_library(idsvc_interop_files STATIC ${CMAKE_CURRENT_LIST_DIR}/interop_files.c)
target_link_libraries(idsvc_interop_files PUBLIC idsvc_test_support PkgConfig::OPENSSL)

idsvc_add_unit_test(saml_xmlsec_verify_test
                    ${CMAKE_CURRENT_LIST_DIR}/saml_xmlsec_verify_test.c
                    idsvc_interop_keys idsvc_interop_files idsvc_saml)

idsvc_add_unit_test(saml_sign_cli_test ${CMAKE_CURRENT_LIST_DIR}/saml_sign_cli_test.c
                    idsvc_interop_keys idsvc_interop_files)
add_dependencies(saml_sign_cli_test idsvc-admin)

# xmlsec1 signs, idsvc verifies: needs the verifier, which lives beside the signer.
if(EXISTS ${CMAKE_SOURCE_DIR}/idsvc/saml_verify.c)
  idsvc_add_unit_test(saml_xmlsec_sign_test
                      ${CMAKE_CURRENT_LIST_DIR}/saml_xmlsec_sign_test.c
                      idsvc_interop_files idsvc_saml)
endif()
