# Differential test of mg::T5Tokenizer against the Hugging Face `tokenizers` library.
# Included from tests/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is tests/.
# Needs ${MGSWEEP_PYTHON} with `tokenizers` (pinned in tests/requirements-diff.txt). Without it
# the generator FAILS with the pip command; only under MGSWEEP_ALLOW_SKIP=1 does it exit 77
# (skipped), and the comparison, finding no cases.json (the generator deletes an old one first),
# skips too. The comparison fails on zero cases.

# Writes ${MGSWEEP_TEST_SCRATCH}/tokenizer_diff/: three more serialisations of the golden
# tokenizer and cases.json (~6000 strings x 4 files, ~4 MB, ~2 s).
add_test(NAME tokenizer_diff_generate
         COMMAND ${MGSWEEP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer_diff/gen_tokenizer_cases.py
                 --golden ${CMAKE_CURRENT_SOURCE_DIR}/golden/tiny/tokenizer.json
                 --out ${MGSWEEP_TEST_SCRATCH}/tokenizer_diff)
set_tests_properties(tokenizer_diff_generate PROPERTIES
                     FIXTURES_SETUP tokenizer_cases SKIP_RETURN_CODE 77 TIMEOUT 300)

# TokenizerDiff.* is kept out of gtest discovery (MGSWEEP_ENV_DRIVEN_TESTS): only this runs it.
add_test(NAME tokenizer_diff_compare
         COMMAND $<TARGET_FILE:mgsweep_unit_tests> --gtest_filter=TokenizerDiff.*)
set_tests_properties(tokenizer_diff_compare PROPERTIES
                     FIXTURES_REQUIRED tokenizer_cases TIMEOUT 300
                     SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]"
                     ENVIRONMENT "MGSWEEP_TOKENIZER_CASES=${MGSWEEP_TEST_SCRATCH}/tokenizer_diff/cases.json")
