# End-to-end tests of `mgsweep run` (see sweep_integration/run_integration.py).
set(_it ${CMAKE_CURRENT_SOURCE_DIR}/sweep_integration/run_integration.py)
set(_scratch ${MGSWEEP_TEST_SCRATCH}/sweep_integration)
foreach(_case ranks kill kill_np3 sigterm sigusr1 respec threads)
  add_test(NAME sweep_integration_${_case}
           COMMAND ${MGSWEEP_PYTHON} ${_it} --mgsweep $<TARGET_FILE:mgsweep> --scratch ${_scratch}
                   ${_case})
  # They share the reference store in the scratch dir: run one at a time.
  set_tests_properties(sweep_integration_${_case} PROPERTIES TIMEOUT 1200 RESOURCE_LOCK sweep_scratch)
endforeach()
