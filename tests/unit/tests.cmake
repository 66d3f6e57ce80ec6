# Unit tests of small parts that need no token, server or database.
idsvc_add_unit_test(test_log ${CMAKE_CURRENT_LIST_DIR}/test_log.c idsvc_audit)
if(TARGET idsvc_server)
  idsvc_add_unit_test(test_metrics ${CMAKE_CURRENT_LIST_DIR}/test_metrics.c idsvc_server)
endif()
if(TARGET idsvc_server)
  idsvc_add_unit_test(test_http_json_text ${CMAKE_CURRENT_LIST_DIR}/test_http_json_text.c
                      idsvc_server)
endif()
if(TARGET idsvc_server)
  idsvc_add_unit_test(test_claim_name ${CMAKE_CURRENT_LIST_DIR}/test_claim_name.c idsvc_server)
endif()
