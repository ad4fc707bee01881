# Faults of a running sweep: a frozen rank, an error mid-run, Ctrl-C, SIGTERM to the launcher
# (tests/faults/run_faults.py). Each case has a scratch folder of its own.
foreach(_case stall stall_start stall_back run_error sigint sigterm_mpirun)
  add_test(NAME faults_run_${_case}
           COMMAND ${MGSWEEP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/faults/run_faults.py
                   --mgsweep $<TARGET_FILE:mgsweep> --scratch ${MGSWEEP_TEST_SCRATCH}/faults
                   ${_case})
  set_tests_properties(faults_run_${_case} PROPERTIES TIMEOUT 600)
endforeach()
