"""Shared by the run_report_test.py cases: the two job specs (blocks, heads), the stores and the
report made once per scratch folder, running mgsweep, check() and the list of failures."""

import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMP_NUM_THREADS="1")
SEED, BOOT = 0, 1000  # the report's defaults

COMMON = """
include = ["{configs}/prompt_template.toml", "{configs}/paper_concepts.toml"]
model = "{model}"
store = "{store}"
batch_size = 16
checkpoint_seconds = {checkpoint}
{top}
[classifier]
kind = "demo"

[generation]
frames = 12
seed = 3
device = "cpu"

[prompts]
per_concept = 4
"""
BLOCKS = """
name = "blocks"
concepts = ["guitar", "piano", "rock", "electronic"]

[baseline]
enabled = true
self_similarity = true

[lens]
enabled = true
layers = "all"

[interventions]
enabled = true
techniques = ["replace", "adjust"]
pairs = [["guitar", "piano"], ["rock", "electronic"], ["guitar", "rock"], ["electronic", "piano"]]
components = ["self_attn", "cross_attn", "mlp"]
layers = "all"
windows = [[0, "end"], [0, 6], [6, "end"]]

[extremes]
enabled = true
top_k = 2
"""
HEADS = """
name = "heads"
concepts = ["guitar", "piano"]

[baseline]
enabled = true
self_similarity = false

[interventions]
enabled = true
techniques = ["adjust"]
pairs = "all"
components = "heads"
layers = "all"
"""

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    return subprocess.run(cmd, text=True, env=kw.pop("env", ENV), cwd=kw.pop("cwd", REPO), **kw)


def need(r, what):
    if r.returncode != 0:
        print(r.stdout[-3000:], r.stderr[-3000:])
        raise SystemExit(f"FAIL: {what} (exit {r.returncode})")


def write_job(args, name, body, store, checkpoint=30):
    path = os.path.join(args.scratch, f"{name}.toml")
    with open(path, "w") as fh:
        top, _, tables = body.partition("\n[")  # the job's top-level keys before any table
        fh.write(COMMON.format(configs=os.path.join(REPO, "configs"), model=model_dir(args),
                               store=store, checkpoint=checkpoint, top=top) + "\n[" + tables)
    return path


def model_dir(args):
    return os.path.join(args.scratch, "model")


def fresh(path, binary):
    return os.path.exists(path) and os.path.getmtime(path) > os.path.getmtime(binary)


def stores(args):
    """The two stores, made once (again when the binary is newer)."""
    if not fresh(os.path.join(model_dir(args), "model.safetensors"), args.mgsweep):
        shutil.rmtree(model_dir(args), ignore_errors=True)
        need(run([args.mgsweep, "make-model", "--shape", "tiny", "--seed", "2", "--out",
                  model_dir(args)]), "make-model")
    out = []
    for name, body in (("blocks", BLOCKS), ("heads", HEADS)):
        store = os.path.join(args.scratch, f"{name}.h5")
        if not (fresh(store, args.mgsweep) and os.path.getmtime(store) >
                os.path.getmtime(os.path.join(model_dir(args), "model.safetensors"))):
            for p in (store, store + ".journal"):
                if os.path.exists(p):
                    os.remove(p)
            need(run([args.mgsweep, "run", write_job(args, name, body, store), "--threads", "1"]),
                 f"run {name}")
        out.append(store)
    return out


def copy_store(src, dst):
    """A copy of a store's file, without the journal a former copy may have left beside it."""
    for p in (dst, dst + ".journal"):
        if os.path.exists(p):
            os.remove(p)
    shutil.copy(src, dst)
    return dst


def report_dir(args):
    return os.path.join(args.scratch, "report")


def the_report(args):
    """`mgsweep report blocks heads --out SCRATCH/report`, made once per pair of stores."""
    s = stores(args)
    out = report_dir(args)
    index = os.path.join(out, "index.html")
    pkg = [os.path.join(d, n) for d, _, ns in os.walk(os.path.join(REPO, "python", "mgsweep"))
           for n in ns if n.endswith(".py")]
    if not (fresh(index, args.mgsweep) and all(os.path.getmtime(index) > os.path.getmtime(x)
                                               for x in s + pkg)):
        shutil.rmtree(out, ignore_errors=True)
        t = time.time()
        r = run([args.mgsweep, "report", *s, "--out", out, "--threads", "1"])
        need(r, "mgsweep report")
        print(f"     (report of both stores: {time.time() - t:.1f} s)")
        check(f"report: {os.path.abspath(index)}" in r.stdout,
              "mgsweep report prints where index.html is")
    return s, out


def import_mgsweep():
    try:
        import mgsweep
    except ModuleNotFoundError as e:
        print(f"FAIL: the mgsweep Python package is not importable ({e}).\n  Install: "
              f"{os.path.dirname(sys.executable)}/pip install -r {REPO}/python/requirements.txt "
              f"-e {REPO}/python  (tools/setup.sh does it)")
        raise SystemExit(1)
    return mgsweep


def read_csv(path):
    import csv
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def num(s):
    return float(s) if s not in ("", "nan", "NaN") else float("nan")


def close(a, b):
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))


def typed(key_cols, row):
    return tuple(int(row[k]) if k in ("layer", "head") else row[k] for k in key_cols)
