"""Store schemas 2 and 3 and `mgsweep migrate` (ctest: store_schema_migrate).

    test_migrate.py --mgsweep BIN --scratch DIR

A schema-1 store is made from a finished schema-2 run the way mgsweep 1 wrote it (h5py: schema
attribute, precision = -KL(before || after) recomputed here, no ideal_precision, the spec with
the compat_* switches and without fit_length/shared_noise). Then:
  - `mgsweep run` (resume) and `mgsweep rescore` refuse it, naming `mgsweep migrate`;
  - `mgsweep migrate` brings it to schema 3 (through 2): precision = -KL(after || before) and
    ideal_precision = -(p_a - p_b) log(p_a / p_b), both recomputed here with numpy from the
    stored logits and the Table-1 labels (an oracle independent of the C++), every other
    dataset byte-identical, the spec hash the job's, so that the original job resumes it;
  - a schema-2 store (a run's store without checksums and fingerprints) is refused by the
    resume and by `mgsweep verify`, naming `mgsweep migrate`; migrated, its checksums equal
    the ones the run's coordinator wrote, bit for bit, and its fingerprints the run's (the
    model path in its spec exists); with that path gone, the model fingerprint is "unknown"
    and the resume warns once and completes;
  - a second migrate has nothing to do; a store of an unknown (newer) schema is refused.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMP_NUM_THREADS="1")

JOB = """
include = ["{configs}/prompt_template.toml", "{configs}/paper_concepts.toml"]
name = "migrate"
model = "{model}"
store = "{store}"
concepts = ["guitar", "piano", "rock"]
batch_size = 4
[classifier]
kind = "demo"
[generation]
frames = 10
seed = 3
device = "cpu"
[prompts]
per_concept = 2
[baseline]
enabled = true
[interventions]
enabled = true
techniques = ["replace", "adjust"]
components = ["self_attn", "mlp"]
layers = [0, 1]
[extremes]
enabled = true
top_k = 1
"""

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def run(*cmd):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(list(cmd), env=ENV, capture_output=True, text=True)
    print(r.stdout + r.stderr, end="", flush=True)
    return r


def log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def labels_of(f):
    """The concepts' odds labels, from the spec the store holds."""
    spec = f.attrs["spec_toml"]
    names = [c.decode() for c in f["/concepts"][()]]
    out = []
    for n in names:
        m = re.search(r"\[concept\.%s\][^\[]*?\blabel = (\d+)" % re.escape(n), spec, re.S)
        out.append(int(m.group(1)))
    return out


def precisions(f, direction):
    """-KL with numpy, float64: 'after_before' (schema 2) or 'before_after' (schema 1)."""
    base = log_softmax(f["/baseline/logits"][()].astype(np.float64))      # [C, P, N]
    after = log_softmax(f["/interventions/logits"][()].astype(np.float64))  # [T, Q, P, J, N]
    pairs = f["/interventions/pairs"][()]
    done = f["/interventions/done"][()].astype(bool)
    out = np.full(done.shape, np.nan)
    for q, (a, _) in enumerate(pairs):
        lp = base[a][None, :, None, :]
        lq = after[:, q]
        if direction == "after_before":
            out[:, q] = -(np.exp(lq) * (lq - lp)).sum(-1)
        else:
            out[:, q] = -(np.exp(lp) * (lp - lq)).sum(-1)
    out[~done] = np.nan
    return out


def ideal(f):
    base = log_softmax(f["/baseline/logits"][()].astype(np.float64))
    labels = labels_of(f)
    pairs = f["/interventions/pairs"][()]
    out = np.empty((len(pairs), base.shape[1]))
    for q, (a, b) in enumerate(pairs):
        la, lb = base[a, :, labels[a]], base[a, :, labels[b]]
        out[q] = -(np.exp(la) - np.exp(lb)) * (la - lb)
    return out


CHECKSUMS = ("baseline/checksum", "baseline/self_similarity_checksum", "lens/checksum",
             "interventions/checksum", "means/checksum")
FINGERPRINTS = ("model_fingerprint", "classifier_fingerprint", "created_with_model_path",
                "created_with_classifier_path")


def downgrade_to_schema_2(path, model=None):
    """A schema-2 store as mgsweep 2 wrote it: no checksums, no fingerprints."""
    with h5py.File(path, "r+") as f:
        for name in CHECKSUMS:
            if name in f:
                del f[name]
        for a in FINGERPRINTS:
            if a in f.attrs:
                del f.attrs[a]
        f.attrs["schema"] = "mgsweep.store/2"
        if model is not None:
            spec = f.attrs["spec_toml"]
            f.attrs["spec_toml"] = re.sub(r'(?m)^model = ".*"$', 'model = "%s"' % model, spec)


def downgrade_to_schema_1(path):
    downgrade_to_schema_2(path)
    with h5py.File(path, "r+") as f:
        old = precisions(f, "before_after")
        f["/interventions/precision"][...] = old
        del f["/interventions/ideal_precision"]
        spec = f.attrs["spec_toml"]
        spec = spec.replace('fit_length = "exact"\n', "")
        spec = spec.replace("shared_noise = true\n", "")
        spec = spec.replace("both_halves = false\n", "both_halves = false\ncompat_row0_history = "
                            "false\ncompat_last_layer_only = false\n")
        f.attrs["spec_toml"] = spec
        f.attrs["spec_hash"] = "0123456789abcdef"
        f.attrs["schema"] = "mgsweep.store/1"


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mgsweep", required=True)
    ap.add_argument("--scratch", required=True)
    args = ap.parse_args()
    mg, d = args.mgsweep, args.scratch
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    model, store = os.path.join(d, "model"), os.path.join(d, "run.h5")
    job = os.path.join(d, "job.toml")
    with open(job, "w") as fh:
        fh.write(JOB.format(configs=os.path.join(REPO, "configs"), model=model, store=store))
    check(run(mg, "make-model", "--shape", "tiny", "--seed", "4", "--out", model).returncode == 0,
          "make-model")
    check(run(mg, "run", job).returncode == 0, "the schema-2 run")
    with h5py.File(store, "r") as f:
        check(f.attrs["schema"] == "mgsweep.store/3", "a new store has schema 3")
        fingerprints = {a: f.attrs[a] for a in FINGERPRINTS}
        p = f["/interventions/precision"][()]
        check(np.nanmax(np.abs(p - precisions(f, "after_before"))) < 1e-12,
              "run: precision = -KL(after || before) (numpy, 1e-12)")
        check(np.abs(f["/interventions/ideal_precision"][()] - ideal(f)).max() < 1e-12,
              "run: ideal_precision = -(p_a - p_b) log(p_a / p_b) (numpy, 1e-12)")
        check(np.all(f["/interventions/ideal_precision"][()] <= 0), "ideal precision <= 0")
        hash2 = f.attrs["spec_hash"]
    reference = datasets(store)

    v1 = os.path.join(d, "v1.h5")
    shutil.copy(store, v1)
    downgrade_to_schema_1(v1)
    before_bytes = open(v1, "rb").read()
    r = run(mg, "run", job, "--store", v1)
    check(r.returncode == 2 and "mgsweep migrate " + v1 in r.stderr and "mgsweep.store/1" in r.stderr,
          "resume of a schema-1 store is refused, naming mgsweep migrate")
    r = run(mg, "rescore", v1, "--classifier", "demo", "--name", "again")
    check(r.returncode == 2 and "mgsweep migrate" in r.stderr, "rescore of a schema-1 store is refused")
    check(open(v1, "rb").read() == before_bytes, "the refused store is byte-identical")

    r = run(mg, "migrate", v1)
    check(r.returncode == 0 and "mgsweep.store/1 -> mgsweep.store/3" in r.stdout, "migrate")
    check(not os.path.exists(v1 + ".migrate.tmp"), "no temporary file left")
    with h5py.File(v1, "r") as f:
        check(f.attrs["schema"] == "mgsweep.store/3", "migrated: schema 3")
        check(f.attrs["migrated_from"] == "mgsweep.store/1", "migrated: migrated_from")
        check(f.attrs["spec_hash"] == hash2, "migrated: the spec hash is the job's")
        check(np.nanmax(np.abs(f["/interventions/precision"][()] - precisions(f, "after_before")))
              < 1e-12, "migrated: precision = -KL(after || before) (numpy, 1e-12)")
        check(np.abs(f["/interventions/ideal_precision"][()] - ideal(f)).max() < 1e-12,
              "migrated: ideal_precision (numpy, 1e-12)")
    migrated = datasets(v1)
    check(sorted(migrated) == sorted(reference), "migrated: the same datasets as a schema-3 run")
    for name, ref in reference.items():
        got = migrated.get(name)
        same = got is not None and got.dtype == ref.dtype and got.shape == ref.shape and (
            got.tolist() == ref.tolist() if ref.dtype == object else got.tobytes() == ref.tobytes())
        check(same, "migrated: %s equals the schema-3 run's bit for bit" % name)

    r = run(mg, "run", job, "--store", v1)
    check(r.returncode == 0 and "resuming" in r.stderr, "the original job resumes the migrated store")
    r = run(mg, "migrate", v1)
    check(r.returncode == 0 and "nothing to do" in r.stdout, "a second migrate has nothing to do")

    # Schema 2 -> 3.
    v2 = os.path.join(d, "v2.h5")
    shutil.copy(store, v2)
    downgrade_to_schema_2(v2)
    before_bytes = open(v2, "rb").read()
    r = run(mg, "run", job, "--store", v2)
    check(r.returncode == 2 and "mgsweep migrate " + v2 in r.stderr and "mgsweep.store/2" in r.stderr,
          "resume of a schema-2 store is refused, naming mgsweep migrate")
    r = run(mg, "verify", v2)
    check(r.returncode == 2 and "mgsweep migrate " + v2 in r.stderr,
          "verify of a schema-2 store is refused, naming mgsweep migrate")
    check(open(v2, "rb").read() == before_bytes, "the refused schema-2 store is byte-identical")
    r = run(mg, "migrate", v2)
    check(r.returncode == 0 and "mgsweep.store/2 -> mgsweep.store/3" in r.stdout, "migrate 2 -> 3")
    migrated = datasets(v2)
    check(sorted(migrated) == sorted(reference), "2 -> 3: the same datasets as a schema-3 run")
    for name in [n for n in CHECKSUMS if n in reference]:
        got, ref = migrated.get(name), reference.get(name)
        check(ref is not None and got is not None and got.dtype == ref.dtype and
              got.tobytes() == ref.tobytes(),
              "2 -> 3: %s equals the checksums the run wrote, bit for bit" % name)
    with h5py.File(v2, "r") as f:
        check(f.attrs["schema"] == "mgsweep.store/3" and
              f.attrs["migrated_from"] == "mgsweep.store/2", "2 -> 3: schema, migrated_from")
        check(all(f.attrs[a] == fingerprints[a] for a in FINGERPRINTS[:2]),
              "2 -> 3: the fingerprints of the job's model and classifier, as the run's")
    r = run(mg, "verify", v2)
    check(r.returncode == 0 and "0 damaged" in r.stdout, "verify of the migrated store: clean")
    r = run(mg, "run", job, "--store", v2)
    check(r.returncode == 0 and "resuming" in r.stderr and "warning" not in r.stderr,
          "the original job resumes the migrated store, without a warning")

    # Schema 2 whose model is no longer where its spec says: "unknown", a warning, no refusal.
    v2u = os.path.join(d, "v2_unknown.h5")
    shutil.copy(store, v2u)
    downgrade_to_schema_2(v2u, model=os.path.join(d, "moved_away"))
    r = run(mg, "migrate", v2u)
    check(r.returncode == 0 and "model fingerprint unknown" in r.stdout,
          "migrate without the model: model fingerprint unknown")
    with h5py.File(v2u, "r") as f:
        check(f.attrs["model_fingerprint"] == "unknown" and
              f.attrs["classifier_fingerprint"] == fingerprints["classifier_fingerprint"],
              "recorded: model unknown, the (demo) classifier's fingerprint")
    r = run(mg, "run", job, "--store", v2u)
    check(r.returncode == 0 and r.stderr.count("records no model fingerprint") == 1,
          "the resume of an unknown fingerprint warns once and completes")

    newer = os.path.join(d, "newer.h5")
    shutil.copy(store, newer)
    with h5py.File(newer, "r+") as f:
        f.attrs["schema"] = "mgsweep.store/9"
    r = run(mg, "run", job, "--store", newer)
    check(r.returncode == 2 and "does not know" in r.stderr, "a newer schema is refused on resume")
    r = run(mg, "migrate", newer)
    check(r.returncode == 2 and "does not know" in r.stderr, "a newer schema is refused by migrate")

    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
