# `cmake --install` of this build into throwaway prefixes, and the systemd unit it
# writes, checked with systemd-analyze.
add_test(NAME install_layout
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_install.sh ${CMAKE_BINARY_DIR})
set_tests_properties(install_layout PROPERTIES TIMEOUT 120)
