"""End-to-end tests of `mgsweep run` on a tiny random model (ctest: sweep_integration_*).

    run_integration.py --mgsweep BIN --scratch DIR CASE

CASE:
  ranks     the store of `mpirun -np 3` equals the 1-rank store bit for bit
  kill      >= 10 kill -9 at random instants, each followed by a resume; the final
            store equals an uninterrupted run's, no item lost or done twice
  sigterm   SIGTERM finishes the batch in hand, checkpoints, exits 75; a resume completes;
            the same with SIGUSR1 to every rank of an mpirun
  respec    resuming with a spec that changes results is refused, naming the key;
            a corrupt store is reported and left untouched
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
COMPARE = os.path.join(HERE, "compare_stores.py")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMP_NUM_THREADS="1", OMPI_MCA_rmaps_base_oversubscribe="1")


def write_job(scratch, store, seed=3):
    text = open(os.path.join(HERE, "job.toml")).read()
    text = text.replace("../../configs/", os.path.join(REPO, "configs") + "/")
    text = text.replace("MODEL_DIR", os.path.join(scratch, "model"))
    text = text.replace("STORE_PATH", store)
    text = text.replace("seed = 3", f"seed = {seed}")
    path = os.path.join(scratch, f"job_seed{seed}.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, env=ENV, **kw)


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


def case_ranks(args):
    ref = reference(args)
    out = os.path.join(args.scratch, "np3.h5")
    fresh(out)
    job = write_job(args.scratch, out)
    run(["mpirun", "-np", "3", "--oversubscribe", args.mgsweep, "run", job, "--threads", "1"],
        check=True)
    return same(ref, out)


def case_kill(args):
    ref = reference(args)
    out = os.path.join(args.scratch, "killed.h5")
    fresh(out)
    job = write_job(args.scratch, out)
    # How long an uninterrupted run takes, to spread the kills over it.
    t0 = time.time()
    run([args.mgsweep, "run", job, "--threads", "1", "--store", out + ".timing.h5"], check=True)
    span = time.time() - t0
    fresh(out + ".timing.h5")
    rng = random.Random(1234)
    kills = 0
    for attempt in range(40):
        p = subprocess.Popen([args.mgsweep, "run", job, "--threads", "1"], env=ENV)
        time.sleep(rng.uniform(0.05, span))
        if p.poll() is not None:
            print(f"run finished before the kill (rc {p.returncode})")
            if p.returncode != 0:
                return False
            if kills >= 10:
                break
            fresh(out)  # start over: we want at least 10 kills of unfinished work
            continue
        p.send_signal(signal.SIGKILL)
        p.wait()
        kills += 1
        print(f"kill {kills}", flush=True)
        if kills >= 10:
            break
    print(f"{kills} kills; resuming to the end")
    if run([args.mgsweep, "run", job, "--threads", "1"]).returncode != 0:
        return False
    return kills >= 10 and same(ref, out)


def case_sigterm(args):
    ref = reference(args)
    out = os.path.join(args.scratch, "term.h5")
    fresh(out)
    job = write_job(args.scratch, out)
    p = subprocess.Popen([args.mgsweep, "run", job, "--threads", "1"], env=ENV)
    time.sleep(3.0)
    p.send_signal(signal.SIGTERM)
    rc = p.wait()
    print(f"exit status after SIGTERM: {rc}")
    if rc not in (75, 0):
        return False
    if run([args.mgsweep, "run", job, "--threads", "1"]).returncode != 0:
        return False
    if not same(ref, out):
        return False
    # Under mpirun/srun every rank gets the signal (Slurm's --signal): the workers must
    # not die with it; rank 0 checkpoints, stops them and exits 75.
    out2 = os.path.join(args.scratch, "term2.h5")
    fresh(out2)
    job2 = write_job(args.scratch, out2)
    p = subprocess.Popen(["mpirun", "-np", "2", "--oversubscribe", args.mgsweep, "run", job2,
                          "--threads", "1"], env=ENV)
    time.sleep(3.0)
    # The ranks only (not mpirun itself): as srun's tasks get it under Slurm.
    subprocess.run(["pkill", "-USR1", "-f", f"^{args.mgsweep} run {job2}"])
    rc = p.wait()
    print(f"exit status of mpirun after SIGUSR1 to every rank: {rc}")
    if rc not in (75, 0):
        return False
    if run([args.mgsweep, "run", job2, "--threads", "1"]).returncode != 0:
        return False
    return same(ref, out2)


def case_respec(args):
    ref = reference(args)
    out = os.path.join(args.scratch, "respec.h5")
    fresh(out)  # also a journal left by an earlier session: the store would refuse it
    shutil.copy(ref, out)
    job = write_job(args.scratch, out, seed=4)
    r = run([args.mgsweep, "run", job, "--threads", "1"], capture_output=True, text=True)
    print(r.stderr)
    if r.returncode != 2 or "seed" not in r.stderr:
        return False
    # A corrupt store is reported and never overwritten.
    bad = os.path.join(args.scratch, "corrupt.h5")
    with open(bad, "wb") as f:
        f.write(b"not an hdf5 file at all" * 100)
    before = open(bad, "rb").read()
    job = write_job(args.scratch, bad)
    r = run([args.mgsweep, "run", job, "--threads", "1"], capture_output=True, text=True)
    print(r.stderr)
    return r.returncode == 2 and open(bad, "rb").read() == before and "corrupt" in r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mgsweep", required=True)
    ap.add_argument("--scratch", required=True)
    ap.add_argument("case", choices=["ranks", "kill", "sigterm", "respec"])
    args = ap.parse_args()
    os.makedirs(args.scratch, exist_ok=True)
    ok = globals()["case_" + args.case](args)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
