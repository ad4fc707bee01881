# Differential test of the TorchScript PaSST export against hear21passt (Python).
# Included by tests/CMakeLists.txt. The C++ half is its own executable so that
# mgsweep_classify_tests stays fast; it is not discovered (NO_DISCOVERY): its tests need the
# files run_passt_diff.sh makes, and fail without them.
mgsweep_test_suite(mgsweep_classify_diff_tests classify_diff mgsweep_classify NO_DISCOVERY)
if(TARGET mgsweep_classify_diff_tests)
  target_precompile_headers(mgsweep_classify_diff_tests REUSE_FROM mgsweep_model)
  set(_passt ${CMAKE_CURRENT_LIST_DIR}/run_passt_diff.sh ${MGSWEEP_PYTHON}
             ${MGSWEEP_TEST_SCRATCH}/classify_diff $<TARGET_FILE:mgsweep_classify_diff_tests>)
  # The export and hear21passt's reference logits. 77 (skipped) only when hear21passt itself
  # is missing AND MGSWEEP_ALLOW_SKIP=1; missing it otherwise fails with the pip command
  # (make_reference.py). About a minute on 2 cores.
  add_test(NAME classify_diff.passt_reference COMMAND ${_passt})
  set_tests_properties(classify_diff.passt_reference PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900
                       FIXTURES_SETUP passt_reference LABELS "diff;python")
  # The C++ side on the CPU, and on CUDA apart: the CUDA case skips without a GPU, and as its
  # own entry it shows as skipped rather than hiding inside a pass.
  add_test(NAME classify_diff.passt COMMAND ${_passt} "PasstDiff.*:-PasstDiff.SameLogitsOnCuda")
  set_tests_properties(classify_diff.passt PROPERTIES TIMEOUT 900 FIXTURES_REQUIRED passt_reference
                       LABELS "diff;python")
  add_test(NAME classify_diff.passt_cuda COMMAND ${_passt} "PasstDiff.SameLogitsOnCuda")
  set_tests_properties(classify_diff.passt_cuda PROPERTIES TIMEOUT 900
                       FIXTURES_REQUIRED passt_reference SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]"
                       LABELS "diff;python;cuda")
endif()
