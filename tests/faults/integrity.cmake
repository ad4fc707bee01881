# Silently wrong results (tests/faults/integrity_faults.py): a resume with another model behind
# the job's model path; flipped bytes in a finished store (`mgsweep verify`, the resume heals).
# Each case has a scratch folder of its own.
foreach(_case fingerprint checksum)
  add_test(NAME faults_integrity_${_case}
           COMMAND ${MGSWEEP_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/faults/integrity_faults.py
                   --mgsweep $<TARGET_FILE:mgsweep> --scratch ${MGSWEEP_TEST_SCRATCH}/faults
                   ${_case})
  set_tests_properties(faults_integrity_${_case} PROPERTIES TIMEOUT 600)
endforeach()
