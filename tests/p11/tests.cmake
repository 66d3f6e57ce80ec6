# Tests of the HSM layer (pkcs11/) and of 'idsvc-admin keys', each on a fresh SoftHSM2 token.

set(P11_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})

# The end-to-end test runs idsvc-admin; until the SAML library exists the tool is not
# built by tools/, so a copy of it is built here for the test.
if(TARGET idsvc-admin)
  set(P11_ADMIN_TARGET idsvc-admin)
else()
  file(GLOB P11_ADMIN_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tools/admin/*.c)
  add_executable(idsvc-admin-p11test ${P11_ADMIN_SOURCES})
  target_include_directories(idsvc-admin-p11test PRIVATE ${CMAKE_SOURCE_DIR}/tools/admin)
  target_link_libraries(idsvc-admin-p11test PRIVATE idsvc_p11)
  set(P11_ADMIN_TARGET idsvc-admin-p11test)
endif()

set(P11_TEST_ENV ${IDSVC_TEST_ENV})
list(FILTER P11_TEST_ENV EXCLUDE REGEX "^IDSVC_ADMIN=")
list(APPEND P11_TEST_ENV "IDSVC_ADMIN=$<TARGET_FILE:${P11_ADMIN_TARGET}>")

# A PKCS#11 module that passes every call to SoftHSM2, counts logins and can pretend the
# device is gone.
add_library(p11_test_wrap MODULE ${P11_TEST_DIR}/wrap_module.c)
target_link_libraries(p11_test_wrap PRIVATE PkgConfig::P11KIT ${CMAKE_DL_LIBS})

add_library(p11_test_util STATIC ${P11_TEST_DIR}/p11_test_util.c)
target_link_libraries(p11_test_util PUBLIC idsvc_p11 idsvc_test_support ${CMAKE_DL_LIBS})

function(p11_add_test name)
  add_executable(${name} ${P11_TEST_DIR}/${name}.c)
  target_link_libraries(${name} PRIVATE p11_test_util pthread)
  target_compile_definitions(${name} PRIVATE
    P11_TEST_WRAP_MODULE="$<TARGET_FILE:p11_test_wrap>")
  add_dependencies(${name} p11_test_wrap)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${P11_TEST_ENV}" TIMEOUT 600)
endfunction()

p11_add_test(test_p11_keys)
p11_add_test(test_p11_session)
p11_add_test(test_p11_objects)
