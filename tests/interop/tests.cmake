# SAML signing: unit tests of the signer's inputs, the canonical-bytes proof against
# libxml2, and interop with the xmlsec1 command line in both directions.
idsvc_add_unit_test(saml_claims_test ${CMAKE_CURRENT_LIST_DIR}/saml_claims_test.c
                    idsvc_saml)
