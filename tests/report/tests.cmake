# Tests of the Python reader (python/mgsweep) and of `mgsweep report` on two small stores of a
# tiny random model (report/run_report_test.py). Included from tests/CMakeLists.txt, so
# CMAKE_CURRENT_SOURCE_DIR is tests/. ctest -R report_
# report_page keeps the page's screenshot at build/tests/scratch/report/report/index.png.
set(_rp_script ${CMAKE_CURRENT_SOURCE_DIR}/report/run_report_test.py)
set(_rp_scratch ${MGSWEEP_TEST_SCRATCH}/report)
foreach(_case reader numbers rerun page partial journal schema)
  add_test(NAME report_${_case}
           COMMAND ${MGSWEEP_PYTHON} ${_rp_script} --mgsweep $<TARGET_FILE:mgsweep>
                   --scratch ${_rp_scratch} ${_case})
  # They share the stores and the report made by the first one: one at a time. A missing
  # package (xarray, websocket-client, chromium) fails with its install command, never skips.
  set_tests_properties(report_${_case} PROPERTIES
                       TIMEOUT 900
                       RESOURCE_LOCK report_scratch
                       ENVIRONMENT "OMP_NUM_THREADS=1;MGSWEEP_PYTHON=${MGSWEEP_PYTHON}")
endforeach()
