# Differential fixtures made with the real Hugging Face transformers (see hf_diff/README.md).
# Included from tests/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is tests/.
# Needs ${MGSWEEP_PYTHON} with the packages pinned in tests/requirements-diff.txt; without them
# the Python tests FAIL with the pip command, and exit 77 (skipped) only under the opt-out
# MGSWEEP_ALLOW_SKIP=1 (tests/oracle_deps.py).

# Writes ${MGSWEEP_TEST_SCRATCH}/hf_diff/{manifest.json,shape0..3/} (about 7 MB, ~10 s on 2
# cores) at shapes drawn from a seed that is new on every run and printed first; set
# MGSWEEP_HF_SEED=S to repeat run S. It removes an earlier run's fixtures before anything else.
# Consumers: FIXTURES_REQUIRED hf_fixtures, ENVIRONMENT MGSWEEP_HF_FIXTURES=${MGSWEEP_TEST_SCRATCH}/hf_diff
add_test(NAME hf_diff_make_fixtures
         COMMAND ${MGSWEEP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/hf_diff/make_hf_fixtures.py
                 --out ${MGSWEEP_TEST_SCRATCH}/hf_diff --count 4)
set_tests_properties(hf_diff_make_fixtures PROPERTIES FIXTURES_SETUP hf_fixtures TIMEOUT 900
                     SKIP_RETURN_CODE 77)

# The installed transformers reproduces the transformers-4.43.4 numbers of tests/golden/tiny
# (so fixtures made with it mean the same thing as the golden one).
add_test(NAME hf_diff_golden_crosscheck
         COMMAND ${MGSWEEP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/hf_diff/make_hf_fixtures.py
                 --check-golden ${CMAKE_CURRENT_SOURCE_DIR}/golden/tiny)
set_tests_properties(hf_diff_golden_crosscheck PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)

# The C++ port against those fixtures (tests/model/hf_diff_test.cpp), with both CPU GEMM paths.
# HfDiff.* is kept out of gtest discovery (MGSWEEP_ENV_DRIVEN_TESTS): only this runs it. It
# fails when the fixtures are missing; the skip regex only matters under MGSWEEP_ALLOW_SKIP=1.
add_test(NAME hf_diff_compare
         COMMAND $<TARGET_FILE:mgsweep_model_tests> --gtest_filter=HfDiff.*)
set_tests_properties(hf_diff_compare PROPERTIES
    FIXTURES_REQUIRED hf_fixtures TIMEOUT 900
    SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]"
    ENVIRONMENT "MGSWEEP_HF_FIXTURES=${MGSWEEP_TEST_SCRATCH}/hf_diff")

# The same with the packed path forced to its AVX2 tiles (on AVX-512 CPUs the default is
# the AVX-512 tiles; on AVX2 CPUs this repeats hf_diff_compare).
add_test(NAME hf_diff_compare_avx2
         COMMAND $<TARGET_FILE:mgsweep_model_tests> --gtest_filter=HfDiff.*)
set_tests_properties(hf_diff_compare_avx2 PROPERTIES
    FIXTURES_REQUIRED hf_fixtures TIMEOUT 900
    SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]"
    ENVIRONMENT "MGSWEEP_HF_FIXTURES=${MGSWEEP_TEST_SCRATCH}/hf_diff;MGSWEEP_CPU_ISA=avx2")

# `mgsweep make-model` writes checkpoints that transformers loads with no missing, unexpected or
# mismatched weights (tiny, and tiny --stereo), that hold exactly what the file holds, and on
# which transformers' greedy generate() gives the codes `mgsweep generate` gives.
add_test(NAME hf_diff_make_model_loads
         COMMAND ${MGSWEEP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/hf_diff/check_make_model.py
                 --mgsweep $<TARGET_FILE:mgsweep> --out ${MGSWEEP_TEST_SCRATCH}/make_model_hf)
set_tests_properties(hf_diff_make_model_loads PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
