# Fault tests (issue 11: hangs, crashes, silently mixed stores, misleading messages), tried as
# a hostile tester would. Each script runs one case per ctest entry, in a scratch folder of its
# own (tests/faults/fault_common.py); exit 77 = skipped, which the scripts return only with
# MGSWEEP_ALLOW_SKIP=1.
set(_faults ${CMAKE_CURRENT_SOURCE_DIR}/faults)

# mgsweep_fault_cases(NAME SCRIPT CASE...): ctest faults_NAME_CASE runs SCRIPT ... CASE.
function(mgsweep_fault_cases name script)
  foreach(_case IN LISTS ARGN)
    add_test(NAME faults_${name}_${_case}
             COMMAND ${MGSWEEP_PYTHON} ${_faults}/${script} --mgsweep $<TARGET_FILE:mgsweep>
                     --scratch ${MGSWEEP_TEST_SCRATCH}/faults ${_case})
    set_tests_properties(faults_${name}_${_case} PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
  endforeach()
endfunction()

# A running sweep: a frozen rank (mid-run, in its model load, woken again), an error mid-run,
# Ctrl-C, SIGTERM to the launcher.
mgsweep_fault_cases(run run_faults.py stall stall_start stall_back run_error sigint
                    sigterm_mpirun)
# Silently wrong results: a resume with another model behind the job's model path; flipped
# bytes in a finished store (`mgsweep verify`, the resume heals).
mgsweep_fault_cases(integrity integrity_faults.py fingerprint checksum)
# The store on a hostile file system (a small tmpfs of each case's own; root only): its
# journal or the store itself out of space.
mgsweep_fault_cases(store_disk_full store_disk_full.py journal create)
# An immutable store and a read-only mount (the script takes no case).
add_test(NAME faults_store_permission
         COMMAND ${MGSWEEP_PYTHON} ${_faults}/store_permission.py --mgsweep $<TARGET_FILE:mgsweep>
                 --scratch ${MGSWEEP_TEST_SCRATCH}/faults)
set_tests_properties(faults_store_permission PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77)
