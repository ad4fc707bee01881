# Differential fixtures made with the real Hugging Face transformers (see hf_diff/README.md).
# Included from tests/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is tests/.
# Needs ${MGSWEEP_PYTHON} with the packages pinned in tests/requirements-diff.txt.

# Writes ${MGSWEEP_TEST_SCRATCH}/hf_diff/shape{0..3}/ (about 7 MB, a few seconds on 2 cores).
# Consumers: FIXTURES_REQUIRED hf_fixtures, ENVIRONMENT MGSWEEP_HF_FIXTURES=${MGSWEEP_TEST_SCRATCH}/hf_diff
add_test(NAME hf_diff_make_fixtures
         COMMAND ${MGSWEEP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/hf_diff/make_hf_fixtures.py
                 --out ${MGSWEEP_TEST_SCRATCH}/hf_diff --count 4 --seed 1234)
set_tests_properties(hf_diff_make_fixtures PROPERTIES FIXTURES_SETUP hf_fixtures TIMEOUT 900)

# The installed transformers reproduces the transformers-4.43.4 numbers of tests/golden/tiny
# (so fixtures made with it mean the same thing as the golden one).
add_test(NAME hf_diff_golden_crosscheck
         COMMAND ${MGSWEEP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/hf_diff/make_hf_fixtures.py
                 --check-golden ${CMAKE_CURRENT_SOURCE_DIR}/golden/tiny)
set_tests_properties(hf_diff_golden_crosscheck PROPERTIES TIMEOUT 300)

# The C++ port against those fixtures (tests/model/hf_diff_test.cpp).
add_test(NAME hf_diff_compare
         COMMAND $<TARGET_FILE:mgsweep_model_tests> --gtest_filter=HfDiff.*)
set_tests_properties(hf_diff_compare PROPERTIES
    FIXTURES_REQUIRED hf_fixtures TIMEOUT 900
    ENVIRONMENT "MGSWEEP_HF_FIXTURES=${MGSWEEP_TEST_SCRATCH}/hf_diff")
