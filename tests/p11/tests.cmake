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
p11_add_test(test_p11_admin)
add_dependencies(test_p11_admin idsvc-admin)
