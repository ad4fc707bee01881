# Real-Slurm test of `mgsweep submit` (slurm/test_submit.sh): a job submitted with sbatch is
# signalled mid-run (USR1 to its batch shell), checkpoints, requeues itself, resumes and ends
# with the same store as an uninterrupted run. Skipped (exit 77) where there is no Slurm or no
# idle node; ../shared/tools/local-slurm.sh start sets up a one-node Slurm.
add_test(NAME slurm_submit
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/slurm/test_submit.sh $<TARGET_FILE:mgsweep>
                 ${MGSWEEP_TEST_SCRATCH}/slurm)
set_tests_properties(slurm_submit PROPERTIES
                     TIMEOUT 1500
                     SKIP_RETURN_CODE 77
                     RESOURCE_LOCK slurm
                     ENVIRONMENT "MGSWEEP_PYTHON=${MGSWEEP_PYTHON};OMP_NUM_THREADS=1")
