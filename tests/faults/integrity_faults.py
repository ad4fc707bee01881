"""Silently wrong results (issue 11): a resume with other model weights behind the same path,
and flipped bytes in a finished store (ctest: faults_integrity_*).

    integrity_faults.py --mgsweep BIN --scratch DIR CASE

CASE:
  fingerprint  a job naming its model by the relative path `model` is stopped (SIGTERM)
               mid-run in folder A, then resumed from folder B whose `model` is a model made
               with another seed: exit 2, the message names both fingerprints and both model
               paths, and the partial store is byte-identical afterwards; resumed from A again
               it completes and equals the uninterrupted reference
  checksum     every stored checksum of a finished store equals CRC-32C recomputed here in pure
               Python from the bytes README defines; one byte flipped (in the file, as bit rot
               would) in /interventions/effect, /baseline/logits and /lens/codes: `mgsweep
               verify` lists exactly those three items and exits 1; the resume recomputes them
               (a damaged baseline: its whole concept), verify then exits 0 and the store equals
               the reference
"""
import os
import re
import shutil
import signal
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sweep_integration"))
import fault_common  # noqa: E402
from fault_common import EXIT_INPUT, EXIT_PREEMPTED, Faults  # noqa: E402
from run_integration import wait_for_progress, wait_session_gone  # noqa: E402
from store_checksums import crc32c, expected_checksums  # noqa: E402
from store_progress import progress  # noqa: E402


def flip_byte(path, dataset, index, byte=0):
    """Flips the bits of one byte of element `index` of `dataset` in the file itself (not
    through HDF5), as a failing disk would."""
    with h5py.File(path, "r", locking=False) as f:
        ds = f[dataset]
        flat = int(np.ravel_multi_index(index, ds.shape))
        at = ds.id.get_offset() + flat * ds.dtype.itemsize + byte
    with open(path, "r+b") as fh:
        fh.seek(at)
        b = fh.read(1)
        fh.seek(at)
        fh.write(bytes([b[0] ^ 0xFF]))


def case_fingerprint(f):
    a = f.scratch  # folder A: its `model` is the reference's model
    b = os.path.join(f.scratch, "elsewhere")  # folder B: another model under the same name
    os.makedirs(b, exist_ok=True)
    if not os.path.exists(os.path.join(b, "model", "model.safetensors")):
        f.run(["make-model", "--shape", "tiny", "--seed", "6", "--out",
               os.path.join(b, "model")], check=True)
    relative = {f'model = "{f.model}"': 'model = "model"'}
    # The reference: the same job (the spec hash covers the model path as written), run in A
    # without interruption.
    ref = os.path.join(f.scratch, "relative_ref.h5")
    f.check(f.run(["run", f.job("relative_ref.h5", replace=relative), "--threads", "1"],
                  cwd=a).returncode == 0, "the reference run")
    store = os.path.join(f.scratch, "mixed.h5")
    job = f.job("mixed.h5", replace=relative)
    cmd = [f.mgsweep, "run", job, "--threads", "1"]
    print("+ (in A)", " ".join(cmd), flush=True)
    p = subprocess.Popen(cmd, env=f.env, cwd=a, start_new_session=True)
    if not f.check(wait_for_progress(p, store), "the run was going when its store showed progress"):
        p.kill()
        return
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=300)
    wait_session_gone(p.pid)
    f.check(rc == EXIT_PREEMPTED, f"SIGTERM: exit {EXIT_PREEMPTED} (got {rc})")
    f.check(0 < (progress(store) or (0, 0))[0] < (progress(store) or (0, 0))[1],
            f"the stopped store is partial: {progress(store)}")
    with h5py.File(store, "r", locking=False) as h:
        fp_a = h.attrs["model_fingerprint"]
    before = open(store, "rb").read()

    r = f.run(["run", job, "--threads", "1"], cwd=b)
    last = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    fps = re.findall(r"xxh64:[0-9a-f]{16}", last)
    f.check(r.returncode == EXIT_INPUT, f"resumed in B with another model: exit 2 (got {r.returncode})")
    f.check(last.startswith("mgsweep: error: ") and "model_fingerprint" in last,
            f"the error is the model fingerprint: {last[:160]}")
    f.check(len(set(fps)) == 2 and fp_a in fps, "the message names both fingerprints")
    f.check(os.path.join(a, "model") in last and os.path.join(b, "model") in last,
            "the message names both model paths")
    f.check("--store a new path" in last and "original model" in last, "and the fix")
    f.check(open(store, "rb").read() == before, "the refused store is byte-identical")

    r = f.run(["run", job, "--threads", "1"], cwd=a)
    f.check(r.returncode == 0 and "resuming" in r.stderr, "resumed in A (its own model): exit 0")
    f.check(f.same(ref, store), "the resumed store equals the reference")


def verify_lines(r):
    return sorted(l[len("damaged: "):].split(" (stored")[0] for l in r.stdout.splitlines()
                  if l.startswith("damaged: "))


def case_checksum(f):
    ref = f.reference()
    want = expected_checksums(ref)
    with h5py.File(ref, "r", locking=False) as h:
        stored = {n: h[n][()] for n in want}
        concepts = [c.decode() for c in h["/concepts"][()]]
        techniques = [t.decode() for t in h["/interventions/techniques"][()]]
        targets = [t.decode() for t in h["/interventions/targets"][()]]
        pairs = h["/interventions/pairs"][()]
        ks = h["/lens/k"][()]
        P = h["/baseline/done"].shape[1]
        shapes = {n: h[n].shape for n in ("/interventions/effect", "/baseline/logits",
                                          "/lens/codes")}
    f.check(sorted(want) == ["/baseline/checksum", "/baseline/self_similarity_checksum",
                             "/interventions/checksum", "/lens/checksum", "/means/checksum"],
            "the store has the five checksum datasets")
    for n in sorted(want):
        f.check(stored[n].dtype == np.int64 and np.array_equal(stored[n], want[n]),
                f"{n}: every stored value equals CRC-32C recomputed in Python "
                f"({int((want[n] >= 0).sum())} items)")
    f.check(crc32c(b"123456789") == 0xE3069283, "the Python CRC-32C is CRC-32C")

    store = os.path.join(f.scratch, "damaged.h5")
    for suffix in ("", ".journal"):
        if os.path.exists(ref + suffix):
            shutil.copy(ref + suffix, store + suffix)
    job = f.job("damaged.h5", keep_store=True)
    t, q, p, j = 1, len(pairs) - 1, 1, len(targets) // 2
    c, pb, k = 1, 2, len(ks) - 1
    flip_byte(store, "/interventions/effect", (t, q, p, j), byte=3)
    flip_byte(store, "/baseline/logits", (c, pb, 5), byte=1)
    flip_byte(store, "/lens/codes", (0, 0, k, 0, 0), byte=0)
    r = f.run(["status", store])
    f.check(r.returncode == 0 and "left: 0 items" in r.stdout,
            "status still calls the damaged store complete (it reads done flags only)")
    expect = sorted([
        f"interventions technique={techniques[t]} pair={concepts[pairs[q][0]]}->"
        f"{concepts[pairs[q][1]]} prompt={p} target={targets[j]}",
        f"baseline concept={concepts[c]} prompt={pb}",
        f"lens concept={concepts[0]} prompt=0 k={ks[k]}",
    ])
    r = f.run(["verify", store])
    f.check(r.returncode == 1, f"verify of the damaged store: exit 1 (got {r.returncode})")
    f.check(verify_lines(r) == expect, f"verify lists exactly the damaged items: {verify_lines(r)}")
    r = f.run(["verify", ref])
    f.check(r.returncode == 0 and not verify_lines(r) and "0 damaged" in r.stdout,
            "verify of the reference: exit 0, nothing damaged")

    r = f.run(["run", job, "--threads", "1"])
    f.check(r.returncode == 0 and "3 damaged items" in r.stderr,
            f"the resume recomputes the damaged items (exit {r.returncode})")
    # A damaged baseline makes its concept's baselines (and means) pending: P items, the one
    # lens batch, the one intervention batch; nothing else.
    m = re.search(r"^run: rank 0 computed (\d+) batches, (\d+) items$", r.stderr, re.M)
    bs = 4  # the job's batch_size
    items = P + P + min(bs, len(targets) - j // bs * bs)
    f.check(m is not None and (int(m[1]), int(m[2])) == (3, items),
            f"only those batches were computed again: 3 batches, {items} items "
            f"(got {m and m.group(0)})")
    r = f.run(["verify", store])
    f.check(r.returncode == 0 and not verify_lines(r), "verify after the resume: exit 0")
    f.check(f.same(ref, store), "the healed store equals the reference")


CASES = ["fingerprint", "checksum"]


if __name__ == "__main__":
    sys.exit(fault_common.main(CASES, globals(), "integrity_"))
