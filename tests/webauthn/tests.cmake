# WebAuthn verification: the public vectors, a software authenticator for the negative
# cases, and the idsvc-admin webauthn command.
if(TARGET idsvc_webauthn)
  add_library(webauthn_soft_authenticator STATIC
              ${CMAKE_CURRENT_LIST_DIR}/soft_authenticator.c)
  target_include_directories(webauthn_soft_authenticator PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(webauthn_soft_authenticator PUBLIC idsvc_webauthn)

  idsvc_add_unit_test(webauthn_register_test
                      ${CMAKE_CURRENT_LIST_DIR}/webauthn_register_test.c
                      webauthn_soft_authenticator)
  idsvc_add_unit_test(webauthn_assert_test ${CMAKE_CURRENT_LIST_DIR}/webauthn_assert_test.c
                      webauthn_soft_authenticator)
  idsvc_add_unit_test(webauthn_algorithms_test
                      ${CMAKE_CURRENT_LIST_DIR}/webauthn_algorithms_test.c
                      webauthn_soft_authenticator)
  idsvc_add_unit_test(webauthn_cbor_test ${CMAKE_CURRENT_LIST_DIR}/webauthn_cbor_test.c
                      webauthn_soft_authenticator)
  idsvc_add_unit_test(webauthn_vectors_test
                      ${CMAKE_CURRENT_LIST_DIR}/webauthn_vectors_test.c idsvc_webauthn)
  if(TARGET idsvc-admin)
    idsvc_add_unit_test(webauthn_cli_test ${CMAKE_CURRENT_LIST_DIR}/webauthn_cli_test.c
                        PkgConfig::JANSSON webauthn_soft_authenticator)
    add_dependencies(webauthn_cli_test idsvc-admin)
  endif()
endif()
