# The store on a hostile file system: its journal or the store itself out of space
# (tests/faults/store_disk_full.py), an immutable store and a read-only mount
# (tests/faults/store_permission.py). Each case mounts a small tmpfs of its own (root only;
# exit 77 = skipped, which the scripts return only with MGSWEEP_ALLOW_SKIP=1).
foreach(_case journal create)
  add_test(NAME faults_store_disk_full_${_case}
           COMMAND ${MGSWEEP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/faults/store_disk_full.py
                   --mgsweep $<TARGET_FILE:mgsweep> --scratch ${MGSWEEP_TEST_SCRATCH}/faults
                   ${_case})
  set_tests_properties(faults_store_disk_full_${_case} PROPERTIES TIMEOUT 600
                       SKIP_RETURN_CODE 77)
endforeach()
add_test(NAME faults_store_permission
         COMMAND ${MGSWEEP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/faults/store_permission.py
                 --mgsweep $<TARGET_FILE:mgsweep> --scratch ${MGSWEEP_TEST_SCRATCH}/faults)
set_tests_properties(faults_store_permission PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
