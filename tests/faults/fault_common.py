"""Shared by the fault tests (tests/faults/*.py): the tiny job of the integration tests, its
uninterrupted reference store, and the bookkeeping of checks.

    from fault_common import Faults
    f = Faults(mgsweep, scratch)        # makes the tiny model once per scratch folder
    job = f.job("name.h5", seed=3)      # a job writing SCRATCH/name.h5 (fresh)
    r = f.run(["run", job, "--threads", "1"])   # CompletedProcess, stderr captured
    f.check(cond, "what")               # prints ok/FAIL; f.finish() is the exit status
    f.same(f.reference(), store)        # dataset-by-dataset equality (compare_stores.py)
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)
sys.path.insert(0, TESTS)
JOB_TEMPLATE = os.path.join(TESTS, "sweep_integration", "job.toml")
COMPARE = os.path.join(TESTS, "sweep_integration", "compare_stores.py")
EXIT_PREEMPTED = 75  # sweep/coordinator.h kExitPreempted
EXIT_INPUT = 2  # bad input (mgsweep main)


class Faults:
    def __init__(self, mgsweep, scratch):
        self.mgsweep = os.path.abspath(mgsweep)
        self.scratch = os.path.abspath(scratch)
        os.makedirs(self.scratch, exist_ok=True)
        self.failures = []
        # Open MPI's session files in a folder of our own (a killed job leaves them behind).
        self.ompi_tmp = tempfile.mkdtemp(prefix="mgsweep-fault-ompi-")
        self.env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                        OMP_NUM_THREADS="1", OMPI_MCA_rmaps_base_oversubscribe="1",
                        OMPI_MCA_orte_tmpdir_base=self.ompi_tmp,
                        OMPI_MCA_btl_vader_backing_directory=self.ompi_tmp)
        self.model = os.path.join(self.scratch, "model")
        if not os.path.exists(os.path.join(self.model, "model.safetensors")):
            self.run(["make-model", "--shape", "tiny", "--seed", "5", "--out", self.model],
                     check=True)

    def check(self, cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            self.failures.append(what)
        return cond

    def run(self, args, mpirun_np=0, **kw):
        """`mgsweep ARGS` (under `mpirun -np N` when mpirun_np > 1), output captured as text
        unless the caller says otherwise."""
        cmd = [self.mgsweep] + list(args)
        if mpirun_np > 1:
            cmd = ["mpirun", "-np", str(mpirun_np), "--oversubscribe"] + cmd
        print("+", " ".join(cmd), flush=True)
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        r = subprocess.run(cmd, env=self.env, **kw)
        if kw.get("capture_output"):
            sys.stdout.write(r.stdout[-4000:] + r.stderr[-4000:])
        return r

    def popen(self, args, mpirun_np=0, **kw):
        cmd = [self.mgsweep] + list(args)
        if mpirun_np > 1:
            cmd = ["mpirun", "-np", str(mpirun_np), "--oversubscribe"] + cmd
        print("+", " ".join(cmd), flush=True)
        return subprocess.Popen(cmd, env=self.env, start_new_session=True, **kw)

    def job(self, store_name, seed=3, replace=None, store_dir=None, keep_store=False):
        """Writes a job for SCRATCH/STORE_NAME (or STORE_DIR/STORE_NAME), removing a store
        of that name left by an earlier run unless keep_store; `replace`: {old: new} edits of
        the job text."""
        store = os.path.join(store_dir or self.scratch, store_name)
        if not keep_store:
            self.fresh(store)
        text = open(JOB_TEMPLATE).read()
        text = text.replace("../../configs/", os.path.join(REPO, "configs") + "/")
        text = text.replace("MODEL_DIR", self.model).replace("STORE_PATH", store)
        text = text.replace("seed = 3", f"seed = {seed}")
        for old, new in (replace or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        path = os.path.join(self.scratch, f"job_{store_name}.toml")
        with open(path, "w") as f:
            f.write(text)
        return path

    @staticmethod
    def fresh(store):
        for p in (store, store + ".journal", store + ".creating"):
            if os.path.exists(p):
                os.remove(p)

    def reference(self):
        """The uninterrupted 1-rank store of the default job (made once per build)."""
        ref = os.path.join(self.scratch, "ref.h5")
        if os.path.exists(ref) and os.path.getmtime(ref) < os.path.getmtime(self.mgsweep):
            self.fresh(ref)
        if not os.path.exists(ref):
            self.run(["run", self.job("ref.h5"), "--threads", "1"], check=True)
        return ref

    def same(self, a, b):
        return subprocess.run([sys.executable, COMPARE, a, b]).returncode == 0

    def finish(self):
        shutil.rmtree(self.ompi_tmp, ignore_errors=True)
        print("FAIL: " + "; ".join(self.failures) if self.failures else "PASS")
        return 1 if self.failures else 0


def main(cases, module_globals, scratch_prefix=""):
    """The command line of a fault script: `SCRIPT --mgsweep BIN --scratch DIR CASE` runs
    case_CASE(Faults) of `module_globals` in DIR/PREFIXCASE; returns the exit status."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--mgsweep", required=True)
    ap.add_argument("--scratch", required=True)
    ap.add_argument("case", choices=cases)
    args = ap.parse_args()
    f = Faults(args.mgsweep, os.path.join(args.scratch, scratch_prefix + args.case))
    t0 = time.time()
    try:
        module_globals["case_" + args.case](f)
    finally:
        print(f"{args.case}: {time.time() - t0:.0f} s")
    return f.finish()
