# The daemon: configuration, storage, TLS, HTTP routes, the shape of claim names, logs
# and metrics. The configuration files (config*.c) form idsvc_config, every other group
# belongs to idsvc_server, and daemon.c holds main().
pkg_check_modules(MHD REQUIRED IMPORTED_TARGET libmicrohttpd>=0.9.75)
pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls>=3.7)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)

if(TARGET idsvc_saml)
  # The configuration file and the regulator trust list it describes, a library of its
  # own so that idsvc-admin reads a node's file with the node's parser.
  file(GLOB CONFIG_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/config*.c)
  add_library(idsvc_config STATIC ${CONFIG_SOURCES})
  target_include_directories(idsvc_config PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(idsvc_config PUBLIC idsvc_policy PkgConfig::INIH)
  # The default assets folder of the citizen pages, whose files a configuration check
  # looks for.
  target_compile_definitions(idsvc_config PRIVATE IDSVC_WEB_DIR="${IDSVC_WEB_DIR}")

  file(GLOB SERVER_SOURCES CONFIGURE_DEPENDS
    ${CMAKE_CURRENT_SOURCE_DIR}/tls*.c ${CMAKE_CURRENT_SOURCE_DIR}/claim*.c
    ${CMAKE_CURRENT_SOURCE_DIR}/http*.c ${CMAKE_CURRENT_SOURCE_DIR}/route_*.c
    ${CMAKE_CURRENT_SOURCE_DIR}/problem*.c ${CMAKE_CURRENT_SOURCE_DIR}/store*.c
    ${CMAKE_CURRENT_SOURCE_DIR}/log*.c ${CMAKE_CURRENT_SOURCE_DIR}/metrics*.c
    ${CMAKE_CURRENT_SOURCE_DIR}/web_*.c)
  add_library(idsvc_server STATIC ${SERVER_SOURCES})
  target_include_directories(idsvc_server PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(idsvc_server PUBLIC idsvc_config idsvc_saml idsvc_pem idsvc_p11
                        PkgConfig::MHD PkgConfig::GNUTLS PkgConfig::SQLITE PkgConfig::INIH
                        PkgConfig::JANSSON PkgConfig::OPENSSL PkgConfig::LIBXML2 pthread)
  # The citizen pages verify registrations and assertions with idsvc_webauthn, and
  # read their scripts, styles and catalogues from web/ unless [pages] assets is set.
  target_link_libraries(idsvc_server PUBLIC idsvc_webauthn)
  target_compile_definitions(idsvc_server PRIVATE IDSVC_WEB_DIR="${IDSVC_WEB_DIR}")

  if(TARGET idsvc_audit)
    target_link_libraries(idsvc_server PUBLIC idsvc_audit)
  endif()

  # The policy engine decides every disclosure of POST /v1/verifications.
  target_link_libraries(idsvc_server PUBLIC idsvc_policy)

  add_executable(idsvc ${CMAKE_CURRENT_SOURCE_DIR}/daemon.c)
  target_link_libraries(idsvc PRIVATE idsvc_server)
endif()
