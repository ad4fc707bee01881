"""End-to-end tests of `mgsweep run` on a tiny random model (ctest: sweep_integration_*).

    run_integration.py --mgsweep BIN --scratch DIR CASE

Every case compares its final store with the reference (an uninterrupted 1-rank run of the
same job, made once per scratch folder) dataset by dataset (compare_stores.py), and proves
that what it meant to test happened: a test whose interruption landed after the work was
done, or whose ranks did not all work, fails instead of passing by accident.

CASE:
  ranks     `mpirun -np 3`: the store equals the 1-rank store bit for bit, and every rank
            computed some of it (each rank logs "run: rank R computed B batches, N items"
            when it stops; their items add up to the run's)
  kill      >= 10 kill -9 at random instants, each followed by a resume; the final store
            equals an uninterrupted run's; at least 3 of the kills hit a run that had made
            progress and was not finished (read back from the killed store)
  kill_np3  the same under `mpirun -np 3`: every process of the job (mpirun and all ranks)
            is killed at once
  sigterm   SIGTERM once the store shows progress: exit status 75, the store partial (some
            but not all items done), a resume completes it and equals the reference
  sigusr1   the same under `mpirun -np 2` with SIGUSR1 to every rank (as Slurm's --signal
            does), not to mpirun
  respec    resuming with a spec that changes results is refused, naming the key;
            a corrupt store is reported and left untouched
  threads   `--threads 2`, and a run stopped at 1 thread resumed at 2: both stores equal the
            1-thread reference bit for bit (results do not depend on the thread count)

The kill instants are drawn from a fresh seed on every run, printed at the start; set
MGSWEEP_KILL_SEED to that number to draw the same instants again.
"""
import argparse
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from store_progress import progress  # noqa: E402  (tests/store_progress.py)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COMPARE = os.path.join(HERE, "compare_stores.py")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMP_NUM_THREADS="1", OMPI_MCA_rmaps_base_oversubscribe="1")
EXIT_PREEMPTED = 75  # mgsweep run after SIGTERM/SIGUSR1 (sweep/coordinator.h)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def write_job(scratch, store, seed=3):
    text = open(os.path.join(HERE, "job.toml")).read()
    text = text.replace("../../configs/", os.path.join(REPO, "configs") + "/")
    text = text.replace("MODEL_DIR", os.path.join(scratch, "model"))
    text = text.replace("STORE_PATH", store)
    text = text.replace("seed = 3", f"seed = {seed}")
    path = os.path.join(scratch, f"job_{os.path.basename(store)}_seed{seed}.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, env=ENV, **kw)


def launcher(args, job, ranks):
    cmd = [args.mgsweep, "run", job, "--threads", "1"]
    return cmd if ranks == 1 else ["mpirun", "-np", str(ranks), "--oversubscribe"] + cmd


def reference(args):
    """The uninterrupted 1-rank store (made once per scratch dir)."""
    ref = os.path.join(args.scratch, "ref.h5")
    if not os.path.exists(os.path.join(args.scratch, "model", "model.safetensors")):
        run([args.mgsweep, "make-model", "--shape", "tiny", "--seed", "5", "--out",
             os.path.join(args.scratch, "model")], check=True)
    # A reference made by an older build is stale: the arithmetic may have changed.
    if os.path.exists(ref) and os.path.getmtime(ref) < os.path.getmtime(args.mgsweep):
        fresh(ref)
    if not os.path.exists(ref):
        job = write_job(args.scratch, ref)
        run([args.mgsweep, "run", job, "--threads", "1"], check=True)
    return ref


def same(a, b):
    return run([sys.executable, COMPARE, a, b]).returncode == 0


def fresh(path):
    for p in (path, path + ".journal"):
        if os.path.exists(p):
            os.remove(p)


def partial(state):
    return state is not None and 0 < state[0] < state[1]


# Processes of a job started with start_new_session=True: mpirun puts every rank in a
# process group of its own, but they all stay in its session.
def session_pids(sid):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(d))
    return pids


def signal_all(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_session_gone(sid, timeout=60):
    """Until no process of the session is alive (a rank still holding the store's lock
    would make the next run fail for the wrong reason)."""
    t0 = time.time()
    while session_pids(sid):
        if time.time() - t0 > timeout:
            return False
        time.sleep(0.01)
    return True


def rank_pids(p):
    """The ranks of an mpirun started in its own session (every process of it but mpirun)."""
    return [pid for pid in session_pids(p.pid) if pid != p.pid]


def wait_for_progress(p, store, timeout=600):
    """Polls the store until it shows progress; True if it did while `p` still ran."""
    t0 = time.time()
    while p.poll() is None and time.time() - t0 < timeout:
        state = progress(store)
        if state is not None and state[0] > 0:
            print(f"progress seen: {state[0]}/{state[1]} items done", flush=True)
            return p.poll() is None
        time.sleep(0.02)
    return False


def case_ranks(args):
    ref = reference(args)
    out = os.path.join(args.scratch, "np3.h5")
    fresh(out)
    job = write_job(args.scratch, out)
    cmd = launcher(args, job, 3)
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=ENV, stderr=subprocess.PIPE, text=True)
    sys.stdout.write(r.stderr)
    check(r.returncode == 0, f"mpirun -np 3 succeeds (exit status {r.returncode})")
    per_rank = {int(m[0]): int(m[2]) for m in
                re.findall(r"^run: rank (\d+) computed (\d+) batches, (\d+) items$", r.stderr,
                           re.M)}
    check(sorted(per_rank) == [0, 1, 2],
          f"every rank reports what it computed (reports from ranks {sorted(per_rank)})")
    check(all(n > 0 for n in per_rank.values()), f"every rank computed items: {per_rank}")
    total = re.search(r"^run: (\d+) items in ", r.stderr, re.M)
    check(total is not None and sum(per_rank.values()) == int(total.group(1)),
          "the ranks' items add up to the run's "
          f"({sum(per_rank.values())} vs {total.group(1) if total else '?'})")
    check(same(ref, out), "the 3-rank store equals the 1-rank store")


def case_kill_n(args, ranks, wanted=10):
    env_seed = os.environ.get("MGSWEEP_KILL_SEED")
    seed = int(env_seed) if env_seed else random.SystemRandom().randrange(2**31)
    print(f"kill instants: seed {seed} ({'from' if env_seed else 'fresh; repeat with'} "
          f"MGSWEEP_KILL_SEED={seed})", flush=True)
    rng = random.Random(seed)
    ref = reference(args)
    name = "killed.h5" if ranks == 1 else f"killed_np{ranks}.h5"
    out = os.path.join(args.scratch, name)
    fresh(out)
    job = write_job(args.scratch, out)
    # How long an uninterrupted run takes, to spread the kills over it.
    timing = out + ".timing.h5"
    fresh(timing)
    t0 = time.time()
    run(launcher(args, job, ranks) + ["--store", timing], check=True)
    span = time.time() - t0
    fresh(timing)
    print(f"an uninterrupted run takes {span:.1f} s", flush=True)
    kills = mid_work = after_last = 0
    # Until `wanted` kills, at least 3 of them mid-work (instants that land in the start-up
    # or after the work was done kill nothing of interest; drawing more is cheaper than a
    # flaky test).
    for attempt in range(60):
        if kills >= wanted and mid_work >= 3:
            break
        before = progress(out)
        p = subprocess.Popen(launcher(args, job, ranks), env=ENV, start_new_session=True)
        instant = rng.uniform(0.05, span)
        time.sleep(instant)
        if p.poll() is not None:
            print(f"run finished before the kill at {instant:.2f} s (rc {p.returncode})")
            if not check(p.returncode == 0, "a run that was not killed succeeds"):
                return
            fresh(out)  # start over: we want kills of unfinished work
            continue
        # Every process of the job at once: mpirun and its ranks (a node that dies).
        signal_all(session_pids(p.pid), signal.SIGKILL)
        p.wait()
        if not wait_session_gone(p.pid):
            check(False, f"every process of the killed job is gone (left: {session_pids(p.pid)})")
            return
        kills += 1
        after = progress(out)
        # This run made checkpointed progress and left work undone: the kill hit it mid-work.
        hit = partial(after) and after[0] > (before[0] if before else 0)
        mid_work += hit
        print(f"kill {kills} at {instant:.2f} s: store {before} -> {after}"
              f"{' (mid-work)' if hit else ''}", flush=True)
        if after is not None and after[0] == after[1]:
            # Killed after its last checkpoint: the store must be the reference already.
            after_last += 1
            check(same(ref, out), f"the store complete at kill {kills} equals the reference")
            fresh(out)
    print(f"{kills} kills, {mid_work} of them mid-work; resuming to the end", flush=True)
    # A kill of a running job counts here even when it came after the job's last checkpoint
    # (the process still ran); the mid-work check below is the one that needs real progress.
    check(kills >= wanted, f"{wanted} kills of running jobs ({kills}, {after_last} of them after "
          f"the last checkpoint; seed {seed})")
    check(mid_work >= 3, f"at least 3 kills hit a run mid-work ({mid_work}; seed {seed})")
    r = run(launcher(args, job, ranks))
    check(r.returncode == 0, "the resume after the last kill completes")
    check(same(ref, out), "the killed and resumed store equals the reference")


def case_kill(args):
    case_kill_n(args, 1)


def case_kill_np3(args):
    case_kill_n(args, 3)


def signal_mid_run(args, ranks, sig):
    """Signals a run once its store shows progress; proves it stopped mid-run (status 75,
    a partial store) and that a resume completes it to the reference."""
    ref = reference(args)
    out = os.path.join(args.scratch, f"signal_{signal.Signals(sig).name}_np{ranks}.h5")
    fresh(out)
    job = write_job(args.scratch, out)
    print("+", " ".join(launcher(args, job, ranks)), flush=True)
    p = subprocess.Popen(launcher(args, job, ranks), env=ENV, start_new_session=True)
    seen = wait_for_progress(p, out)
    if not check(seen, "the run was still going when its store showed progress"):
        p.kill()
        p.wait()
        return
    if ranks == 1:
        p.send_signal(sig)
        what = f"{signal.Signals(sig).name} to mgsweep"
    else:
        # The ranks only, not mpirun itself: as srun's tasks get Slurm's --signal. Every rank
        # gets it; the workers must not die of it.
        pids = rank_pids(p)
        signal_all(pids, sig)
        what = f"{signal.Signals(sig).name} to each of the {len(pids)} ranks"
    rc = p.wait()
    wait_session_gone(p.pid)
    check(rc == EXIT_PREEMPTED, f"exit status after {what} is {EXIT_PREEMPTED} (got {rc})")
    state = progress(out)
    check(partial(state), f"the stopped store is partial, some but not all items done: {state}")
    st = run([args.mgsweep, "status", out], capture_output=True, text=True)
    print(st.stdout + st.stderr, end="")
    check(st.returncode == 0, "mgsweep status reads the stopped store")
    r = run(launcher(args, job, ranks))
    check(r.returncode == 0, "the resume completes")
    check(same(ref, out), "the stopped and resumed store equals the reference")


def case_sigterm(args):
    signal_mid_run(args, 1, signal.SIGTERM)


def case_sigusr1(args):
    signal_mid_run(args, 2, signal.SIGUSR1)


def case_respec(args):
    ref = reference(args)
    out = os.path.join(args.scratch, "respec.h5")
    fresh(out)  # also a journal left by an earlier session: the store would refuse it
    shutil.copy(ref, out)
    job = write_job(args.scratch, out, seed=4)
    r = run([args.mgsweep, "run", job, "--threads", "1"], capture_output=True, text=True)
    print(r.stderr)
    check(r.returncode == 2 and "seed" in r.stderr,
          "a resume with another seed is refused (exit status 2), naming the key")
    # A corrupt store is reported and never overwritten.
    bad = os.path.join(args.scratch, "corrupt.h5")
    with open(bad, "wb") as f:
        f.write(b"not an hdf5 file at all" * 100)
    before = open(bad, "rb").read()
    job = write_job(args.scratch, bad)
    r = run([args.mgsweep, "run", job, "--threads", "1"], capture_output=True, text=True)
    print(r.stderr)
    check(r.returncode == 2 and "corrupt" in r.stderr, "a corrupt store is reported")
    check(open(bad, "rb").read() == before, "... and left untouched")


def case_threads(args):
    ref = reference(args)
    out = os.path.join(args.scratch, "threads2.h5")
    fresh(out)
    job = write_job(args.scratch, out)
    r = run([args.mgsweep, "run", job, "--threads", "2"])
    check(r.returncode == 0, "a run with --threads 2 completes")
    check(same(ref, out), "... and equals the 1-thread store bit for bit")
    # Stopped at 1 thread, resumed at 2.
    out = os.path.join(args.scratch, "threads1to2.h5")
    fresh(out)
    job = write_job(args.scratch, out)
    p = subprocess.Popen([args.mgsweep, "run", job, "--threads", "1"], env=ENV,
                         start_new_session=True)
    if not check(wait_for_progress(p, out), "the 1-thread run was going when stopped"):
        p.kill()
        p.wait()
        return
    p.send_signal(signal.SIGTERM)
    check(p.wait() == EXIT_PREEMPTED, "it stopped with 75")
    check(partial(progress(out)), f"... leaving a partial store: {progress(out)}")
    r = run([args.mgsweep, "run", job, "--threads", "2"])
    check(r.returncode == 0, "the resume with --threads 2 completes")
    check(same(ref, out), "... and the store equals the 1-thread reference")


CASES = ["ranks", "kill", "kill_np3", "sigterm", "sigusr1", "respec", "threads"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mgsweep", required=True)
    ap.add_argument("--scratch", required=True)
    ap.add_argument("case", choices=CASES)
    args = ap.parse_args()
    args.mgsweep = os.path.abspath(args.mgsweep)
    os.makedirs(args.scratch, exist_ok=True)
    # Open MPI's session folder and shared-memory files in a folder of this test's own: a job
    # killed with -9 leaves them behind (megabytes per job in /tmp and /dev/shm), and this one
    # is removed at the end. Short (under /tmp): its sockets' paths must stay under 108 bytes.
    ompi_tmp = tempfile.mkdtemp(prefix="mgsweep-it-ompi-")
    ENV["OMPI_MCA_orte_tmpdir_base"] = ompi_tmp
    ENV["OMPI_MCA_btl_vader_backing_directory"] = ompi_tmp
    t0 = time.time()
    try:
        globals()["case_" + args.case](args)
    finally:
        shutil.rmtree(ompi_tmp, ignore_errors=True)
    print(f"{args.case}: {time.time() - t0:.0f} s")
    print("FAIL: " + "; ".join(failures) if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
