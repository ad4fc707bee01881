# The oracle test (oracle/README.md): a tiny sweep run by mgsweep, recomputed by an independent
# Python implementation of the paper's experiments (transformers' MusicGen + hooks, the real
# PaSST architecture with random weights) and compared dataset by dataset. Included from
# tests/CMakeLists.txt (its glob of */tests.cmake), so CMAKE_CURRENT_SOURCE_DIR is tests/.
#
#   ctest --test-dir build -R oracle --output-on-failure      (about 1-2 minutes on 2 cores)
#
# Needs ${MGSWEEP_PYTHON} with tools/requirements-torch.txt and tests/requirements-diff.txt
# (torch, transformers, h5py, hear21passt, ...). A missing one FAILS the test and prints the
# pip command; MGSWEEP_SKIP_ORACLE=1 in the environment skips it (exit 77), and nothing else.
add_test(NAME oracle_sweep
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/oracle/run_oracle.sh ${MGSWEEP_PYTHON}
                 $<TARGET_FILE:mgsweep> ${MGSWEEP_TEST_SCRATCH}/oracle ${PROJECT_SOURCE_DIR})
set_tests_properties(oracle_sweep PROPERTIES
    TIMEOUT 900
    SKIP_RETURN_CODE 77
    PROCESSORS 2
    ENVIRONMENT "OMP_NUM_THREADS=2")
