# Differential test of the TorchScript PaSST export against hear21passt (Python).
# Included by tests/CMakeLists.txt. The C++ half is its own executable so that
# mgsweep_classify_tests stays fast; it is not discovered (NO_DISCOVERY): its tests need the
# files run_passt_diff.sh makes, and fail without them.
mgsweep_test_suite(mgsweep_classify_diff_tests classify_diff mgsweep_classify NO_DISCOVERY)
if(TARGET mgsweep_classify_diff_tests)
  target_precompile_headers(mgsweep_classify_diff_tests REUSE_FROM mgsweep_model)
  add_test(NAME classify_diff.passt
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_passt_diff.sh ${MGSWEEP_PYTHON}
                   ${MGSWEEP_TEST_SCRATCH}/classify_diff
                   $<TARGET_FILE:mgsweep_classify_diff_tests>)
  # 77 (skipped) only when hear21passt itself is missing AND MGSWEEP_ALLOW_SKIP=1; missing it
  # otherwise fails with the pip command (make_reference.py). The export and the CPU model take
  # about a minute on 2 cores.
  set_tests_properties(classify_diff.passt PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900
                       LABELS "diff;python")
endif()
