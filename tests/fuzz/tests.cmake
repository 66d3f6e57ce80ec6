# libFuzzer harnesses. With -DIDSVC_FUZZ=ON (clang only) each one is a fuzzer; in the
# normal build each one is linked with fuzz_replay.c instead, and ctest runs it over
# its seed folders under the sanitizers of IDSVC_SANITIZE. tools/fuzz runs the fuzzers.
set(FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
set(FUZZ_GENERATED_SEEDS ${CMAKE_BINARY_DIR}/fuzz-seeds)
file(MAKE_DIRECTORY ${FUZZ_GENERATED_SEEDS})
file(GLOB FUZZ_SAML_VECTOR_DIRS LIST_DIRECTORIES true "${IDSVC_VECTORS_DIR}/saml/*")

# Adds the harness tests/fuzz/<name>.c, built from source (which may differ from name),
# with its seed folders and libraries.
function(idsvc_add_fuzz_target name source)
  cmake_parse_arguments(FUZZ "" "" "SEEDS;LIBRARIES;DEFINITIONS" ${ARGN})
  if(IDSVC_FUZZ)
    add_executable(${name} ${FUZZ_DIR}/${source})
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    set(target ${name})
  else()
    set(target ${name}_replay)
    add_executable(${target} ${FUZZ_DIR}/${source} ${FUZZ_DIR}/fuzz_replay.c)
    add_test(NAME ${target} COMMAND ${target} ${FUZZ_SEEDS})
    set_tests_properties(${target} PROPERTIES ENVIRONMENT "${IDSVC_TEST_ENV}" TIMEOUT 300)
  endif()
  target_include_directories(${target} PRIVATE ${FUZZ_DIR})
  target_link_libraries(${target} PRIVATE ${FUZZ_LIBRARIES})
  target_compile_definitions(${target} PRIVATE ${FUZZ_DEFINITIONS})
  # tools/fuzz reads the seed folders of each target from this file.
  string(REPLACE ";" "\n" seed_lines "${FUZZ_SEEDS}")
  file(WRITE ${CMAKE_BINARY_DIR}/fuzz-targets/${name} "${seed_lines}\n")
endfunction()

set(FUZZ_SAML_DEFINITIONS FUZZ_SAML_KEY="${FUZZ_DIR}/saml_test_key.pub.pem")
idsvc_add_fuzz_target(fuzz_saml_verify fuzz_saml_verify.c
  SEEDS ${FUZZ_DIR}/seeds/saml_verify ${FUZZ_DIR}/seeds/saml_verify_signed
        ${FUZZ_SAML_VECTOR_DIRS}
  LIBRARIES idsvc_saml DEFINITIONS ${FUZZ_SAML_DEFINITIONS})
# The same harness, which also signs each input's Signature template with the test key
# before it verifies it, started from the signed assertions, so that mutations reach the
# checks after the signature.
add_library(fuzz_saml_sign STATIC ${FUZZ_DIR}/fuzz_saml_sign.c)
target_link_libraries(fuzz_saml_sign PUBLIC idsvc_saml)
idsvc_add_fuzz_target(fuzz_saml_verify_signed fuzz_saml_verify.c
  SEEDS ${FUZZ_DIR}/seeds/saml_verify_signed
  LIBRARIES idsvc_saml fuzz_saml_sign
  DEFINITIONS ${FUZZ_SAML_DEFINITIONS} FUZZ_SAML_SIGN_KEY="${FUZZ_DIR}/saml_test_key.pem")

idsvc_add_fuzz_target(fuzz_http_json fuzz_http_json.c
  SEEDS ${FUZZ_DIR}/seeds/http_json LIBRARIES idsvc_server)

idsvc_add_fuzz_target(fuzz_policy_bundle fuzz_policy_bundle.c
  SEEDS ${FUZZ_DIR}/seeds/policy_bundle ${CMAKE_SOURCE_DIR}/policies
  LIBRARIES idsvc_policy)

# The WebAuthn seeds are made by the tests' software authenticator, for the fixed
# challenge and relying party of the harnesses.
add_library(fuzz_webauthn_support STATIC ${FUZZ_DIR}/fuzz_webauthn.c)
target_include_directories(fuzz_webauthn_support PUBLIC ${FUZZ_DIR})
target_link_libraries(fuzz_webauthn_support PUBLIC idsvc_webauthn)
add_executable(fuzz_webauthn_seeds ${FUZZ_DIR}/fuzz_webauthn_seeds.c)
target_link_libraries(fuzz_webauthn_seeds PRIVATE fuzz_webauthn_support
                      webauthn_soft_authenticator)

foreach(kind register assert)
  idsvc_add_fuzz_target(fuzz_webauthn_${kind} fuzz_webauthn_${kind}.c
    SEEDS ${FUZZ_DIR}/seeds/webauthn_${kind} ${FUZZ_GENERATED_SEEDS}/webauthn_${kind}
    LIBRARIES fuzz_webauthn_support)
  if(NOT IDSVC_FUZZ)
    set_tests_properties(fuzz_webauthn_${kind}_replay PROPERTIES
                         FIXTURES_REQUIRED fuzz_webauthn_seeds)
  endif()
endforeach()
if(NOT IDSVC_FUZZ)
  add_test(NAME fuzz_webauthn_seeds
           COMMAND fuzz_webauthn_seeds ${FUZZ_GENERATED_SEEDS}/webauthn_register
                   ${FUZZ_GENERATED_SEEDS}/webauthn_assert)
  set_tests_properties(fuzz_webauthn_seeds PROPERTIES FIXTURES_SETUP fuzz_webauthn_seeds
                       ENVIRONMENT "${IDSVC_TEST_ENV}")
endif()
