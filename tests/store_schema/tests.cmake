# Store schema 2 and `mgsweep migrate` (store_schema/test_migrate.py). Included from
# tests/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is tests/.
add_test(NAME store_schema_migrate
         COMMAND ${MGSWEEP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/store_schema/test_migrate.py
                 --mgsweep $<TARGET_FILE:mgsweep> --scratch ${MGSWEEP_TEST_SCRATCH}/store_schema)
set_tests_properties(store_schema_migrate PROPERTIES TIMEOUT 600)
