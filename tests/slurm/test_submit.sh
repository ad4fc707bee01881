#!/usr/bin/env bash
# Real-Slurm test of `mgsweep submit` (ctest: slurm_submit): preemption, requeue and resume.
#
#   test_submit.sh MGSWEEP SCRATCH
#
# 1. A tiny random model and a small CPU-only job (tests/sweep_integration/job.toml, made a
#    little bigger so that a run lasts long enough to be interrupted) with a [slurm] table:
#    one node, one task, no GPU.
# 2. The reference: the same job run by `mgsweep run` alone, uninterrupted, one rank.
# 3. `mgsweep submit` the job; once the job runs and the store is a quarter done, send USR1 to its
#    batch shell only (`scancel --batch --signal=USR1`: exactly what --signal=B:USR1@N sends
#    before the time limit). The script's trap forwards it to srun, the task checkpoints and
#    exits 75, the script runs `scontrol requeue`; Slurm puts the job back in the queue with a
#    begin time about two minutes ahead (its credential lifetime: the previous run's step must
#    be cleaned up first -- starting it earlier with `scontrol update StartTime=now` made the
#    step launch fail on a leftover PMIx socket), the second run resumes and completes.
#    Checks: the store was partial between the runs, the job completed with exit code 0 after
#    one requeue, the log shows signal -> checkpoint -> requeue -> resume -> complete, and the
#    final store equals the reference bit for bit (compare_stores.py).
# 4. `scancel` stays final: submit again, cancel mid-run; the tasks checkpoint on TERM, the job
#    ends CANCELLED and is not requeued; `mgsweep run` then resumes the store to the reference.
#
# Exit 77 (ctest: skipped) where Slurm is not there: no sbatch/sinfo/..., no controller, or no
# idle node. ../shared/tools/local-slurm.sh start sets up a one-node Slurm on this machine.
set -u -o pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 MGSWEEP SCRATCH" >&2
  exit 2
fi
mgsweep=$1
scratch=$2
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac  # no dirname: PATH may be bare here
here=$(cd "$here" && pwd)
repo=$(cd "$here/../.." && pwd)
python=${MGSWEEP_PYTHON:-$repo/.venv/bin/python}
start_timeout=${MGSWEEP_SLURM_TEST_START_TIMEOUT:-180}  # s for a queued job to start
run_timeout=${MGSWEEP_SLURM_TEST_RUN_TIMEOUT:-300}      # s for a run to end

skip() {
  echo "SKIP: $*"
  exit 77
}

job_id=""
log=""
fail() {
  echo "FAIL: $*"
  if [ -n "$job_id" ]; then
    echo "--- scontrol show job $job_id"
    scontrol show job "$job_id" 2>&1
  fi
  if [ -n "$log" ] && [ -f "$log" ]; then
    echo "--- $log (last 60 lines)"
    tail -n 60 "$log"
  fi
  exit 1
}

cleanup() {
  # Never leave a job behind: cancel ours if it is still queued or running.
  if [ -n "$job_id" ] && scontrol show job "$job_id" 2>/dev/null |
    grep -qE 'JobState=(PENDING|RUNNING|REQUEUED|SUSPENDED|CONFIGURING|COMPLETING)'; then
    echo "cleanup: scancel $job_id"
    scancel "$job_id" 2>/dev/null || true
  fi
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

# --- Slurm present? ---------------------------------------------------------------------
for tool in sbatch sinfo squeue scontrol scancel srun; do
  command -v "$tool" >/dev/null 2>&1 ||
    skip "$tool is not on PATH: no Slurm here (../shared/tools/local-slurm.sh start sets one up)"
done
states=$(timeout 30 sinfo -h -o '%t' 2>&1) || skip "sinfo failed, no Slurm controller answers: $states"
echo "$states" | grep -qxE '(idle|mix)[~#+]?' ||
  skip "no idle node (sinfo node states: $(echo "$states" | tr '\n' ' '))"
[ -x "$mgsweep" ] || fail "$mgsweep is not an executable"
[ -x "$python" ] || fail "no Python at $python (set MGSWEEP_PYTHON)"

# Open MPI refuses to start as root without these; sbatch passes our environment to the job.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1

rm -rf "$scratch"
mkdir -p "$scratch" || fail "cannot create $scratch"
scratch=$(cd "$scratch" && pwd)

# --- The job ------------------------------------------------------------------------------
"$mgsweep" make-model --shape tiny --seed 5 --out "$scratch/model" >/dev/null ||
  fail "make-model failed"
job="$scratch/job.toml"
# As tests/sweep_integration/run_integration.py's write_job, with absolute paths; 12 prompts
# per concept instead of 3, so that a run lasts ~30 s (time to interrupt it).
sed -e "s#\.\./\.\./configs/#$repo/configs/#g" \
  -e "s#MODEL_DIR#$scratch/model#" \
  -e "s#STORE_PATH#$scratch/unused.h5#" \
  -e 's#^name = .*#name = "slurm_itest"#' \
  -e 's#^per_concept = .*#per_concept = 12#' \
  "$repo/tests/sweep_integration/job.toml" >"$job" || fail "cannot write $job"
grep -q '^per_concept = 12' "$job" || fail "job.toml changed: per_concept not found"
cat >>"$job" <<'TOML'

[slurm]
nodes = 1
gpus_per_node = 0          # CPU-only: one task
cpus_per_task = 1
time = "15:00"
signal_seconds = 60
TOML

# --- The reference: one rank, uninterrupted ------------------------------------------------
ref="$scratch/ref.h5"
t0=$(date +%s)
"$mgsweep" run "$job" --threads 1 --store "$ref" >"$scratch/ref.log" 2>&1 ||
  { tail -n 20 "$scratch/ref.log"; fail "the reference run failed"; }
echo "reference run: $(($(date +%s) - t0)) s"

# --- Helpers ------------------------------------------------------------------------------
# submit STORE: `mgsweep submit` the job with that store; sets job_id and log.
submit() {
  local out
  out=$("$mgsweep" submit "$job" --store "$1" 2>&1) || fail "submit failed: $out"
  echo "$out"
  job_id=$(echo "$out" | awk '/^Submitted batch job/ {print $4}')
  [ -n "$job_id" ] || fail "no job id in submit's output"
  [ -f "$1.sbatch" ] || fail "submit wrote no $1.sbatch"
  log="$scratch/slurm_itest-$job_id.log"
}

field() {  # field NAME: one field of `scontrol show job` of job_id ("" once the job is gone)
  scontrol show job -o "$job_id" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1
}

# progress STORE: "DONE TOTAL" items summed over the stages ("" while it cannot be read).
progress() {
  [ -f "$1" ] || return 0
  "$mgsweep" status "$1" 2>/dev/null |
    awk '$1 ~ /^(baseline|lens|interventions)$/ {d += $2; t += $4; n++} END {if (n) print d, t}'
}

# interrupt STORE CMD...: once job_id runs and STORE is a quarter done (inside the
# interventions stage, the bulk of the items), run CMD.
interrupt() {
  local store=$1 deadline state done total
  shift
  deadline=$(($(date +%s) + start_timeout + run_timeout))
  while :; do
    [ "$(date +%s)" -lt "$deadline" ] ||
      fail "the job did not get going (state $(field JobState), reason $(field Reason))"
    state=$(field JobState)
    case "$state" in
      PENDING | CONFIGURING | "") ;;
      RUNNING)
        read -r done total <<<"$(progress "$store")"
        if [ -n "${done:-}" ] && [ $((done * 4)) -ge "$total" ] && [ "$done" -lt "$total" ]; then
          echo "run at $done / $total items: $*"
          "$@" || fail "$* failed"
          return
        elif [ -n "${done:-}" ] && [ "$done" -ge "$total" ] && [ "$total" -gt 0 ]; then
          fail "the run finished ($done / $total) before it could be interrupted: make the job bigger"
        fi
        ;;
      *) fail "the job ended before it was interrupted (state $state)" ;;
    esac
    sleep 0.5
  done
}

# partial STORE: fail unless STORE is readable and not complete.
partial() {
  local done total
  read -r done total <<<"$(progress "$1")"
  echo "store: ${done:-?} / ${total:-?} items"
  [ -n "${done:-}" ] && [ "$done" -lt "$total" ] ||
    fail "the store is not partial after the interruption (${done:-?} / ${total:-?})"
}

same_as_reference() {
  "$python" "$repo/tests/sweep_integration/compare_stores.py" "$ref" "$1" ||
    fail "$1 differs from the uninterrupted run's store"
}

# --- 1. USR1 to the batch shell: checkpoint, requeue, resume, complete -----------------------
store="$scratch/slurm.h5"
"$mgsweep" submit "$job" --dry-run --store "$store" >"$scratch/dry.sbatch" ||
  fail "submit --dry-run failed"
submit "$store"
cmp -s "$store.sbatch" "$scratch/dry.sbatch" || fail "the submitted script differs from --dry-run's"
interrupt "$store" scancel --batch --signal=USR1 "$job_id"

# The script must requeue the job: Restarts becomes 1 and the job waits for its begin time.
deadline=$(($(date +%s) + run_timeout))
while :; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the job was not requeued after the signal"
  restarts=$(field Restarts)
  state=$(field JobState)
  [ "${restarts:-0}" -ge 1 ] && [ "$state" != COMPLETING ] && break
  case "$state" in
    COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | "")
      fail "the job ended ($state, exit code $(field ExitCode)) instead of being requeued" ;;
  esac
  sleep 0.5
done
echo "requeued: state $state, restarts $restarts, reason $(field Reason)"
partial "$store"
grep -q "got SIGUSR1" "$log" || fail "the batch shell did not log the USR1"
grep -q "run: stopped by signal; checkpointed" "$log" || fail "mgsweep did not checkpoint on the signal"
grep -q "requeueing job $job_id" "$log" || fail "the script did not requeue"

# The requeued run resumes and completes.
deadline=$(($(date +%s) + start_timeout + run_timeout))
while :; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the requeued job did not complete in time (state $(field JobState))"
  state=$(field JobState)
  case "$state" in
    COMPLETED) break ;;
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | PREEMPTED | BOOT_FAIL | DEADLINE)
      fail "the requeued job ended $state (exit code $(field ExitCode))" ;;
    "")
      # Gone from the controller (MinJobAge passed): the log tells how it ended.
      grep -q "mgsweep: job complete" "$log" && break
      fail "the job left the queue without completing" ;;
  esac
  sleep 1
done
exit_code=$(field ExitCode)
restarts=$(field Restarts)
echo "job $job_id: $state, exit code ${exit_code:-?}, restarts ${restarts:-?}"
[ -z "$exit_code" ] || [ "$exit_code" = "0:0" ] || fail "exit code $exit_code, not 0:0"
[ -z "$restarts" ] || [ "$restarts" = 1 ] || fail "$restarts restarts, expected 1"
grep -q "run 2 on" "$log" || fail "the log shows no second run"
grep -q "run: resuming $store" "$log" || fail "the second run did not resume the store"
grep -q "mgsweep: job complete" "$log" || fail "the log does not say the job completed"
[ "$(grep -c "run: creating" "$log")" = 1 ] || fail "the store was created more than once"
same_as_reference "$store"
echo "part 1 passed: signalled, checkpointed, requeued, resumed, complete, same store"

# --- 2. scancel is final: checkpoint, no requeue; `mgsweep run` resumes the store later ------
store="$scratch/cancelled.h5"
submit "$store"
interrupt "$store" scancel "$job_id"
deadline=$(($(date +%s) + run_timeout))
while [ "$(field JobState)" != CANCELLED ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the cancelled job did not end (state $(field JobState))"
  sleep 0.5
done
sleep 5  # a requeue would show by now
state=$(field JobState)
restarts=$(field Restarts)
echo "job $job_id after scancel: $state, restarts ${restarts:-?}"
[ "$state" = CANCELLED ] && [ "${restarts:-0}" = 0 ] || fail "the cancelled job came back ($state)"
grep -q "got SIGTERM" "$log" || fail "the batch shell did not log the TERM"
grep -q "run: stopped by signal; checkpointed" "$log" || fail "mgsweep did not checkpoint on TERM"
grep -q "not requeueing" "$log" || fail "the script did not say it leaves the job cancelled"
grep -q "requeueing job" "$log" && fail "the script requeued a cancelled job"
partial "$store"
"$mgsweep" run "$job" --threads 1 --store "$store" >"$scratch/resume.log" 2>&1 ||
  { tail -n 20 "$scratch/resume.log"; fail "resuming the cancelled job's store failed"; }
grep -q "run: resuming $store" "$scratch/resume.log" || fail "the store was not resumed"
same_as_reference "$store"
echo "part 2 passed: scancel checkpointed and stayed final; the store resumed"
echo "PASS"
