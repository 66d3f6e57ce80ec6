# Tests of the HSM layer (pkcs11/) and of 'idsvc-admin keys', each on a fresh SoftHSM2 token.

set(P11_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})

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
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${IDSVC_TEST_ENV}" TIMEOUT 600)
endfunction()

p11_add_test(test_p11_keys)
p11_add_test(test_p11_session)
p11_add_test(test_p11_objects)
p11_add_test(test_p11_data)
p11_add_test(test_p11_admin)
add_dependencies(test_p11_admin idsvc-admin)

# The fork test links its own copies of the HSM layer and the token helper, built without
# sanitizers, because GCC 12's AddressSanitizer allocator is not fork-safe: a child can
# hang in malloc on a lock that a parent thread held. See test_p11_fork.c.
file(GLOB P11_PLAIN_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/pkcs11/*.c)
add_executable(test_p11_fork ${P11_TEST_DIR}/test_p11_fork.c ${P11_PLAIN_SOURCES}
               ${CMAKE_SOURCE_DIR}/tests/support/test_token.c)
target_include_directories(test_p11_fork PRIVATE ${CMAKE_SOURCE_DIR}/pkcs11
                           ${CMAKE_SOURCE_DIR}/tests/support)
target_compile_definitions(test_p11_fork PRIVATE
  IDSVC_DEFAULT_PKCS11_MODULE="${IDSVC_DEFAULT_PKCS11_MODULE}")
target_compile_options(test_p11_fork PRIVATE -fno-sanitize=all)
target_link_options(test_p11_fork PRIVATE -fno-sanitize=all)
target_link_libraries(test_p11_fork PRIVATE PkgConfig::OPENSSL PkgConfig::P11KIT
                      PkgConfig::CMOCKA ${CMAKE_DL_LIBS} pthread)
add_test(NAME test_p11_fork COMMAND test_p11_fork)
set_tests_properties(test_p11_fork PROPERTIES ENVIRONMENT "${IDSVC_TEST_ENV}" TIMEOUT 900)
