"""Faults of a running sweep (issue 11): a frozen rank, an error in the middle of a run, Ctrl-C,
SIGTERM to the launcher (ctest: faults_run_*).

    run_faults.py --mgsweep BIN --scratch DIR CASE

CASE:
  stall        `mpirun -np 3`, rank 1 frozen (SIGSTOP) mid-run: rank 0 names the rank and
               host, gives its batch to another rank, the others finish the work, and the run
               ends with 75 (requeue) instead of waiting forever; the resume completes and the
               store equals an uninterrupted run's
  stall_start  `mpirun -np 3`, rank 2 frozen right after its model load (it stops itself there:
               MGSWEEP_TEST_FREEZE_RANK_AFTER_LOAD=2, as a rank stalled in its load would):
               rank 0 does not wait for it forever, names it, and exits 75 without a store
               (nothing was computed); the run then completes on its own
  stall_back   the same as stall, but the frozen rank is woken (SIGCONT) after it was declared stalled:
               it is taken back, its late result is not counted twice, the run ends with 0 and
               equals the reference
  run_error    a classifier that returns the wrong shape fails the run on its first batch:
               the message says what failed (not "stopped by signal"), the exit status is 1,
               and the corrected job on the same store path replaces the empty store (saying
               so) and completes
  sigint       SIGINT (Ctrl-C) mid-run checkpoints like SIGTERM: 75, a partial store, a resume
               that equals the reference
  sigterm_mpirun  SIGTERM to tools/mpirun-sweep (the mpirun for schedulers that send TERM):
               75, a partial store, a resume that equals the reference
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sweep_integration"))
import fault_common  # noqa: E402
from fault_common import EXIT_PREEMPTED, REPO, Faults  # noqa: E402
import oracle_deps  # noqa: E402  (tests/oracle_deps.py)
from run_integration import rank_pids, wait_for_progress, wait_session_gone  # noqa: E402
from store_progress import progress  # noqa: E402

# A job long enough (seconds, on 3 ranks) for a rank to freeze mid-run, with a short stall
# bound: healthy batches of the tiny model take tens of milliseconds.
STALL_JOB = {"per_concept = 3": "per_concept = 12", "frames = 12": "frames = 40",
             "checkpoint_seconds = 0.5": "checkpoint_seconds = 0.5\nstall_seconds = 3"}


def partial(state):
    return state is not None and 0 < state[0] < state[1]


def rank_pid(p, rank):
    """The pid of MPI rank `rank` of an mpirun started in its own session."""
    for pid in rank_pids(p):
        try:
            env = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return pid
    return None


def wait_for_line(path, pattern, p, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        text = open(path, errors="replace").read() if os.path.exists(path) else ""
        if re.search(pattern, text):
            return True
        if p.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def stall_reference(f):
    ref = os.path.join(f.scratch, "stall_ref.h5")
    if os.path.exists(ref) and os.path.getmtime(ref) >= os.path.getmtime(f.mgsweep):
        return ref
    f.run(["run", f.job("stall_ref.h5", replace=STALL_JOB), "--threads", "1"], check=True)
    return ref


def freeze_rank_1(f, name, wake):
    ref = stall_reference(f)
    job = f.job(name, replace=STALL_JOB)
    store = os.path.join(f.scratch, name)
    log = os.path.join(f.scratch, name + ".log")
    with open(log, "w") as out:
        p = f.popen(["run", job, "--threads", "1"], mpirun_np=3, stdout=out, stderr=out)
    if not f.check(wait_for_progress(p, store), "the run was going when its store showed progress"):
        p.kill()
        return
    pid = None
    while pid is None and p.poll() is None:
        pid = rank_pid(p, 1)
    os.kill(pid, signal.SIGSTOP)
    frozen_at = progress(store)
    print(f"rank 1 (pid {pid}) frozen at {frozen_at}", flush=True)
    declared = wait_for_line(log, r"rank 1 on \S+ has not answered for", p)
    f.check(declared, "rank 0 declares rank 1 stalled, naming its host")
    if wake:
        os.kill(pid, signal.SIGCONT)
    try:
        rc = p.wait(timeout=300)
    except Exception:  # noqa: BLE001  (a hang is the bug this test is about)
        p.kill()
        rc = None
    wait_session_gone(p.pid)
    text = open(log, errors="replace").read()
    sys.stdout.write(text[-3000:])
    if wake:
        f.check(rc == 0, f"a woken rank is taken back and the run completes (exit {rc})")
        f.check("rank 1 on" in text and "answered again" in text, "... saying so")
    else:
        f.check(rc == EXIT_PREEMPTED, f"the run ends with {EXIT_PREEMPTED}, not a hang (got {rc})")
        f.check(re.search(r"stalled: rank 1 on \S+ never answered again", text) is not None,
                "the last word names the stalled rank and host")
        at_end = progress(store)
        f.check(at_end is not None and frozen_at is not None and at_end[0] > frozen_at[0],
                f"the other ranks went on working: {frozen_at} -> {at_end}")
        r = f.run(["run", job, "--threads", "1"])
        f.check(r.returncode == 0, "the resume completes")
    f.check(f.same(ref, store), "the store equals an uninterrupted run's")


def case_stall(f):
    freeze_rank_1(f, "stall.h5", wake=False)


def case_stall_start(f):
    job = f.job("stall_start.h5", replace=STALL_JOB)
    store = os.path.join(f.scratch, "stall_start.h5")
    log = os.path.join(f.scratch, "stall_start.log")
    env = dict(f.env, MGSWEEP_TEST_FREEZE_RANK_AFTER_LOAD="2")
    with open(log, "w") as out:
        cmd = ["mpirun", "-np", "3", "--oversubscribe", f.mgsweep, "run", job, "--threads", "1"]
        print("+ MGSWEEP_TEST_FREEZE_RANK_AFTER_LOAD=2", " ".join(cmd), flush=True)
        p = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=out, stderr=out)
    try:
        rc = p.wait(timeout=300)
    except subprocess.TimeoutExpired:  # the bug this case is about
        p.kill()
        rc = None
    wait_session_gone(p.pid)
    text = open(log, errors="replace").read()
    sys.stdout.write(text[-3000:])
    f.check(rc == EXIT_PREEMPTED, f"exit {EXIT_PREEMPTED} instead of waiting forever (got {rc})")
    f.check(re.search(r"run: stalled: rank 2 did not report within \d+ s", text) is not None,
            "rank 0 names the rank that never reported")
    f.check(not os.path.exists(store), "no store was made (nothing was computed)")
    r = f.run(["run", job, "--threads", "1"])
    f.check(r.returncode == 0, "the same command then completes")


def case_stall_back(f):
    freeze_rank_1(f, "stall_back.h5", wake=True)


def lying_classifier(path):
    """A TorchScript classifier whose mgsweep.json promises 527 classes and whose forward
    returns 526 columns."""
    (torch,) = oracle_deps.require("torch", test="faults_run_run_error")

    class Lying(torch.nn.Module):
        def forward(self, audio):
            return audio[:, :526] * 0.0

    meta = {"format": "mgsweep.classifier", "format_version": 1, "sample_rate": 32000,
            "input_samples": 12 * 640, "num_classes": 527, "output": "logits"}
    torch.jit.save(torch.jit.script(Lying()), path,
                   _extra_files={"mgsweep.json": json.dumps(meta)})
    return path


def case_run_error(f):
    clf = lying_classifier(os.path.join(f.scratch, "lying.pt"))
    store = os.path.join(f.scratch, "run_error.h5")
    job = f.job("run_error.h5", replace={'kind = "demo"': f'kind = "torchscript"\npath = "{clf}"'})
    r = f.run(["run", job, "--threads", "1"])
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    f.check(r.returncode == 1, f"a failing run exits 1 (got {r.returncode})")
    f.check("stopped by signal" not in r.stderr and "run the same command" not in r.stderr,
            "it does not claim a signal stopped it")
    f.check(last.startswith("mgsweep: error:") and "forward returned shape" in last,
            f"its last line says what failed: {last!r}")
    # The corrected job, same store path: the empty store is not an obstacle.
    f.check(os.path.exists(store), "the failed run left its (empty) store")
    job = f.job("run_error.h5", keep_store=True)
    r = f.run(["run", job, "--threads", "1"])
    f.check(r.returncode == 0, "the corrected job completes on the same store path")
    f.check("replacing" in r.stderr and "holds no completed item" in r.stderr,
            "... replacing the empty store, saying so")
    f.check(f.same(f.reference(), store), "... and equals the reference")


def signal_mid_run(f, name, launcher, sig, ranks):
    ref = f.reference()
    store = os.path.join(f.scratch, name)
    job = f.job(name)
    cmd = launcher + [f.mgsweep, "run", job, "--threads", "1"]
    print("+", " ".join(cmd), flush=True)
    p = subprocess.Popen(cmd, env=f.env, start_new_session=True)
    if not f.check(wait_for_progress(p, store), "the run was going when its store showed progress"):
        p.kill()
        return
    p.send_signal(sig)
    rc = p.wait(timeout=300)
    wait_session_gone(p.pid)
    f.check(rc == EXIT_PREEMPTED,
            f"{signal.Signals(sig).name} to {os.path.basename(cmd[0])}: exit {EXIT_PREEMPTED} "
            f"(got {rc})")
    f.check(partial(progress(store)), f"the stopped store is partial: {progress(store)}")
    r = f.run(["run", job, "--threads", "1"], mpirun_np=ranks)
    f.check(r.returncode == 0, "the resume completes")
    f.check(f.same(ref, store), "the stopped and resumed store equals the reference")


def case_sigint(f):
    signal_mid_run(f, "sigint.h5", [], signal.SIGINT, 1)


def case_sigterm_mpirun(f):
    wrapper = os.path.join(REPO, "tools", "mpirun-sweep")
    signal_mid_run(f, "sigterm_mpirun.h5", [wrapper, "-np", "2", "--oversubscribe"],
                   signal.SIGTERM, 2)


CASES = ["stall", "stall_start", "stall_back", "run_error", "sigint", "sigterm_mpirun"]


if __name__ == "__main__":
    sys.exit(fault_common.main(CASES, globals(), ""))
