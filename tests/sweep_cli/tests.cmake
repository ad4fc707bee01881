# Tests of `mgsweep rescore` and `mgsweep export-audio` on a tiny random model and a small
# sweep (sweep_cli/run_sweep_cli.py). Included from tests/CMakeLists.txt, so
# CMAKE_CURRENT_SOURCE_DIR is tests/. ctest -R sweep_cli_
set(_sc_script ${CMAKE_CURRENT_SOURCE_DIR}/sweep_cli/run_sweep_cli.py)
set(_sc_scratch ${MGSWEEP_TEST_SCRATCH}/sweep_cli)
foreach(_case rescore_same refuse partial export)
  add_test(NAME sweep_cli_${_case}
           COMMAND ${MGSWEEP_PYTHON} ${_sc_script} --mgsweep $<TARGET_FILE:mgsweep>
                   --scratch ${_sc_scratch} ${_case})
  # They share the base store made by the first one: one at a time. Exit 77 (skipped) only
  # where PyTorch is missing under the opt-out MGSWEEP_ALLOW_SKIP=1 (tests/oracle_deps.py).
  set_tests_properties(sweep_cli_${_case} PROPERTIES
                       TIMEOUT 900
                       SKIP_RETURN_CODE 77
                       RESOURCE_LOCK sweep_cli_scratch
                       ENVIRONMENT "OMP_NUM_THREADS=1")
endforeach()
