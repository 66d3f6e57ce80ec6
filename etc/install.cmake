# What `cmake --install` puts where, under CMAKE_INSTALL_PREFIX (default /usr/local).
# Section 1.5 of docs/operations.md runs the installed node under systemd.
option(IDSVC_INSTALL_SYSTEMD_UNIT "Install lib/systemd/system/idsvc.service" ON)

if(TARGET idsvc)
  install(TARGETS idsvc RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
endif()
if(TARGET idsvc-admin)
  install(TARGETS idsvc-admin RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

file(GLOB IDSVC_MAN_PAGES ${CMAKE_SOURCE_DIR}/docs/man/*.1)
install(FILES ${IDSVC_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# The citizen pages' assets. The daemon reads them from IDSVC_WEB_DIR unless
# [pages] assets names another folder.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/idsvc/web)

file(GLOB IDSVC_DOCS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${IDSVC_DOCS} ${CMAKE_SOURCE_DIR}/schemas/openapi.json
              ${CMAKE_SOURCE_DIR}/schemas/policy.xsd
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
file(GLOB IDSVC_POLICY_SOURCES ${CMAKE_SOURCE_DIR}/policies/*.xml)
install(FILES ${CMAKE_SOURCE_DIR}/etc/idsvc.conf.sample
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
install(FILES ${IDSVC_POLICY_SOURCES} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples/policies)

# The unit is written at install time, so that it names the daemon under the prefix
# that `cmake --install --prefix` gives, not only the configured one.
if(IDSVC_INSTALL_SYSTEMD_UNIT AND TARGET idsvc)
  install(CODE "
    set(IDSVC_DAEMON \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SBINDIR}/idsvc\")
    set(IDSVC_DOCS \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
    set(unit \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/idsvc.service\")
    message(STATUS \"Installing: \${unit}\")
    configure_file(\"${CMAKE_CURRENT_LIST_DIR}/idsvc.service.in\" \"\${unit}\" @ONLY)
  ")
endif()
