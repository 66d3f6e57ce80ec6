# WebAuthn verification: the public vectors, a software authenticator for the negative
# cases, and the idsvc-admin webauthn command.
if(TARGET idsvc_webauthn)
  add_library(webauthn_soft_authenticator STATIC
              ${CMAKE_CURRENT_LIST_DIR}/soft_authenticator.c
              ${CMAKE_CURRENT_LIST_DIR}/soft_safetynet.c)
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
  idsvc_add_unit_test(webauthn_certificate_test
                      ${CMAKE_CURRENT_LIST_DIR}/webauthn_certificate_test.c
                      webauthn_soft_authenticator)
  idsvc_add_unit_test(webauthn_safetynet_test
                      ${CMAKE_CURRENT_LIST_DIR}/webauthn_safetynet_test.c
                      webauthn_soft_authenticator)
  idsvc_add_unit_test(webauthn_cbor_test ${CMAKE_CURRENT_LIST_DIR}/webauthn_cbor_test.c
                      webauthn_soft_authenticator)
  # The WebAuthn library once more, with SM3 fetched by a name that OpenSSL does not
  # know, as in an OpenSSL built without SM3. The test links the soft authenticator's
  # source, because its library would bring the real idsvc_webauthn in as well.
  # Imported targets are visible only in the directory that found them.
  pkg_check_modules(FIDO2 REQUIRED IMPORTED_TARGET libfido2)
  pkg_check_modules(CBOR REQUIRED IMPORTED_TARGET libcbor)
  get_target_property(WEBAUTHN_LIBRARY_SOURCES idsvc_webauthn SOURCES)
  add_library(idsvc_webauthn_no_sm3 STATIC ${WEBAUTHN_LIBRARY_SOURCES})
  target_compile_definitions(idsvc_webauthn_no_sm3 PRIVATE
                             WEBAUTHN_SM3_NAME="SM3-absent-from-this-build")
  target_include_directories(idsvc_webauthn_no_sm3 PUBLIC ${CMAKE_SOURCE_DIR}/idsvc)
  target_link_libraries(idsvc_webauthn_no_sm3 PUBLIC idsvc_pem PkgConfig::FIDO2
                        PkgConfig::CBOR PkgConfig::OPENSSL PkgConfig::JANSSON)
  idsvc_add_unit_test(webauthn_no_sm3_test ${CMAKE_CURRENT_LIST_DIR}/webauthn_no_sm3_test.c
                      idsvc_webauthn_no_sm3)
  target_sources(webauthn_no_sm3_test PRIVATE ${CMAKE_CURRENT_LIST_DIR}/soft_authenticator.c
                 ${CMAKE_CURRENT_LIST_DIR}/soft_safetynet.c)
  target_include_directories(webauthn_no_sm3_test PRIVATE ${CMAKE_CURRENT_LIST_DIR})

  idsvc_add_unit_test(webauthn_vectors_test
                      ${CMAKE_CURRENT_LIST_DIR}/webauthn_vectors_test.c idsvc_webauthn)
  if(TARGET idsvc-admin)
    idsvc_add_unit_test(webauthn_cli_test ${CMAKE_CURRENT_LIST_DIR}/webauthn_cli_test.c
                        PkgConfig::JANSSON webauthn_soft_authenticator)
    add_dependencies(webauthn_cli_test idsvc-admin)
  endif()
endif()
