# Unit tests of small parts that need no token, server or database.
idsvc_add_unit_test(test_log ${CMAKE_CURRENT_LIST_DIR}/test_log.c idsvc_audit)
