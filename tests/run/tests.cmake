# tools/run's choice of port, run with stubs in place of the build and the daemon.
add_test(NAME run_script_port
         COMMAND sh ${CMAKE_CURRENT_LIST_DIR}/test_run_port.sh ${CMAKE_SOURCE_DIR}/tools/run)
set_tests_properties(run_script_port PROPERTIES TIMEOUT 60)
