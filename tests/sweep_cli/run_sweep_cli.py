"""Tests of `mgsweep rescore` and `mgsweep export-audio` (ctest: sweep_cli_*).

    run_sweep_cli.py --mgsweep BIN --scratch DIR CASE

A tiny random model and a small sweep (every stage; the run's batches split the prompts and
targets unevenly) are made once per scratch folder (again when the binary is newer). Each case
works on its own copy of that store.

CASE:
  rescore_same  rescore --classifier demo --name again: the new logits, NDCG and effect
                scores equal the run's bit for bit (same classifier, same audio); every
                original dataset and attribute is byte-identical afterwards; h5py, `mgsweep
                status` and a resumed `mgsweep run` accept the result; --batch N agrees
                closely; a TorchScript classifier with another class count is stored beside
  refuse        an existing name is refused (--force replaces it), a store locked by a writer
                (flock, and a live `mgsweep run`) is refused, a classifier with too few
                classes is refused; a refused rescore leaves the file byte-identical and no
                temporary file; a rescore killed with -9 mid-way (proven: after its first
                stage, before its end) leaves the store's objects as they were. The live run
                is proven to have been running throughout (it shows progress before the
                refused rescore, and exits 75 on the SIGTERM after it)
  partial       items whose done flag is not set get NaN (and the effects of interventions
                whose baseline is missing are NaN)
  export        export-audio --extremes --baseline writes the expected WAVs (32-bit float,
                the model's sample rate and length); --extremes on a store whose extremes are
                not done, or no flag at all, is a clear error
"""
import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))
from store_progress import progress  # noqa: E402  (tests/store_progress.py)
import oracle_deps  # noqa: E402  (tests/oracle_deps.py: a missing package fails, never skips)

EXIT_PREEMPTED = 75  # mgsweep run after SIGTERM (sweep/coordinator.h)
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMP_NUM_THREADS="1")

JOB = """
include = ["{configs}/prompt_template.toml", "{configs}/paper_concepts.toml"]
name = "sweep_cli"
model = "{model}"
store = "{store}"
concepts = ["guitar", "rock"]
batch_size = 3          # 4 prompts -> batches of 3 + 1; 8 targets -> 3 + 3 + 2
checkpoint_seconds = 30

[classifier]
kind = "demo"

[generation]
frames = 12
seed = 7
device = "cpu"

[prompts]
per_concept = 4

[baseline]
enabled = true
self_similarity = true

[lens]
enabled = true
layers = "all"

[interventions]
enabled = true
techniques = ["replace", "adjust"]
pairs = "all"
components = ["self_attn", "mlp"]
layers = "all"

[extremes]
enabled = true
top_k = 2
"""

# The scores that rescore recomputes, as (original, name under /rescore/NAME/).
SCORES = ["baseline/logits", "baseline/ndcg", "lens/logits", "lens/ndcg",
          "interventions/logits", "interventions/effect", "interventions/effect_original",
          "interventions/effect_desired", "interventions/precision", "interventions/status"]

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True, **kw)
    if r.stdout:
        print(r.stdout, end="")
    if r.stderr:
        print(r.stderr, end="")
    return r


def write_job(scratch, store, per_concept=4):
    path = os.path.join(scratch, "job_" + os.path.basename(store) + ".toml")
    text = JOB.format(configs=os.path.join(REPO, "configs"), model=os.path.join(scratch, "model"),
                      store=store)
    with open(path, "w") as f:
        f.write(text.replace("per_concept = 4", f"per_concept = {per_concept}"))
    return path


def base_store(args):
    """The finished sweep every case copies (made once; again when the binary is newer)."""
    model = os.path.join(args.scratch, "model")
    base = os.path.join(args.scratch, "base.h5")
    stale = (not os.path.exists(base)
             or os.path.getmtime(base) < os.path.getmtime(args.mgsweep))
    if stale:
        for p in (base, base + ".journal"):
            if os.path.exists(p):
                os.remove(p)
        shutil.rmtree(model, ignore_errors=True)
        r = run([args.mgsweep, "make-model", "--shape", "tiny", "--seed", "2", "--out", model])
        assert r.returncode == 0, "make-model failed"
        r = run([args.mgsweep, "run", write_job(args.scratch, base), "--threads", "1"])
        assert r.returncode == 0, "the base run failed"
    return base


def copy_store(src, dst):
    for suffix in ("", ".journal", ".rescore.tmp"):
        if os.path.exists(dst + suffix):
            os.remove(dst + suffix)
    shutil.copy(src, dst)
    if os.path.exists(src + ".journal"):
        shutil.copy(src + ".journal", dst + ".journal")
    return dst


def snapshot(path):
    """Every dataset (dtype, shape, bytes) and every attribute of a store, by name."""
    out = {}
    with h5py.File(path, "r", locking=False) as f:
        out["@root"] = {k: str(v) for k, v in f.attrs.items()}

        def visit(name, obj):
            attrs = {k: str(v) for k, v in obj.attrs.items()}
            if isinstance(obj, h5py.Dataset):
                data = obj[()]
                raw = repr(list(data)) if data.dtype.kind == "O" else data.tobytes()
                out[name] = (str(data.dtype), data.shape, raw, attrs)
            else:
                out[name + "/@group"] = attrs
        f.visititems(visit)
    return out


def file_hash(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def rescore(args, store, *extra):
    return run([args.mgsweep, "rescore", store, "--threads", "1", *extra])


def same_bits(f, a, b):
    x, y = f[a][()], f[b][()]
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def torchscript_classifier(path, classes, slow=False):
    """A small TorchScript classifier in the exporter's format. slow: each forward call
    spends a fraction of a second, so that a rescore with it lasts seconds (the kill test must
    land mid-way).
    PyTorch missing is a failure with the install command (skip only under
    MGSWEEP_ALLOW_SKIP=1): .venv has it after tools/setup.sh."""
    import warnings

    (torch,) = oracle_deps.require("torch", test="sweep_cli (TorchScript classifiers)")
    warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notices

    class Tiny(torch.nn.Module):
        def __init__(self, n, rounds):
            super().__init__()
            g = torch.Generator().manual_seed(5)
            self.w = torch.nn.Parameter(torch.randn(n, 4, generator=g), requires_grad=False)
            self.rounds = rounds

        def forward(self, audio):
            feats = torch.stack([audio.mean(1), audio.std(1), audio.abs().mean(1),
                                 audio.pow(2).mean(1).sqrt()], 1)
            busy = torch.zeros_like(feats)
            for i in range(self.rounds):  # only to take time
                busy = busy + torch.sin(audio * (1.0 + 1e-3 * i)).mean(1, keepdim=True) * 1e-9
            return (feats + busy) @ self.w.t()

    # The job's clip (12 frames x 640 samples at 32 kHz) at 16 kHz: rescore refuses a
    # classifier that would pad or crop it.
    meta = {"format": "mgsweep.classifier", "format_version": 1, "sample_rate": 16000,
            "input_samples": 12 * 640 // 2, "num_classes": classes, "output": "logits"}
    labels = "index,mid,display_name\n" + "".join(f"{i},,class {i}\n" for i in range(classes))
    torch.jit.save(torch.jit.script(Tiny(classes, 4000 if slow else 0)), path,
                   _extra_files={"mgsweep.json": json.dumps(meta), "labels.csv": labels})
    return path


# ---------------------------------------------------------------------------------------


def case_rescore_same(args):
    store = copy_store(base_store(args), os.path.join(args.scratch, "same.h5"))
    before = snapshot(store)
    r = rescore(args, store, "--classifier", "demo", "--name", "again")
    check(r.returncode == 0, "rescore --classifier demo --name again succeeds")
    check(not os.path.exists(store + ".rescore.tmp"), "no temporary file is left")
    after = snapshot(store)
    check(all(after.get(k) == v for k, v in before.items()),
          "every original dataset and attribute is byte-identical after rescore")
    added = sorted(k for k in after if k not in before)
    check(all(k.startswith("rescore/") for k in added), f"only /rescore/ is added: {added}")
    with h5py.File(store, "r", locking=False) as f:  # h5py opens the result
        for name in SCORES:
            check(same_bits(f, name, "rescore/again/" + name),
                  f"rescore/again/{name} equals /{name} bit for bit")
        g = f["rescore/again"]
        check(g.attrs["classifier"] == "demo", "attribute classifier = demo")
        check(g.attrs["num_classes"] == "527", "attribute num_classes = 527")
    # Still a store: status reads it, a resumed run accepts it (nothing left to do).
    check(run([args.mgsweep, "status", store]).returncode == 0, "mgsweep status reads it")
    r = run([args.mgsweep, "run", write_job(args.scratch, store), "--threads", "1"])
    check(r.returncode == 0, "mgsweep run resumes the rescored store")
    check("rescore/again/baseline/logits" in snapshot(store), "... and keeps /rescore/again")

    # Other batches: the decoder sees other rows together; close, not necessarily bitwise.
    r = rescore(args, store, "--classifier", "demo", "--name", "batched", "--batch", "5")
    check(r.returncode == 0, "rescore --batch 5 succeeds")
    with h5py.File(store, "r", locking=False) as f:
        for name in ("baseline/logits", "interventions/logits", "interventions/effect"):
            x, y = f[name][()], f["rescore/batched/" + name][()]
            check(np.allclose(x, y, rtol=1e-4, atol=1e-3, equal_nan=True),
                  f"rescore/batched/{name} is close to /{name}")

    # Another classifier, another class count: stored beside the first.
    ts = torchscript_classifier(os.path.join(args.scratch, "tiny600.pt"), 600)
    if ts:
        r = rescore(args, store, "--classifier", ts)
        check(r.returncode == 0, "rescore with a TorchScript classifier succeeds")
        with h5py.File(store, "r", locking=False) as f:
            g = f["rescore/tiny600"]
            check(g["baseline/logits"].shape == (2, 4, 600), "its logits have 600 classes")
            check(g["interventions/logits"].shape[-1] == 600, "... also the interventions'")
            done = f["interventions/done"][()] == 1
            eff = g["interventions/effect"][()]
            check(np.all(np.isfinite(eff[done])), "its effects are finite where done")
            check(g.attrs["classifier"].startswith("torchscript:"), "attribute classifier")
    return True


def case_refuse(args):
    base = base_store(args)
    store = copy_store(base, os.path.join(args.scratch, "refuse.h5"))
    check(rescore(args, store, "--classifier", "demo", "--name", "again").returncode == 0,
          "first rescore succeeds")
    h = file_hash(store)

    r = rescore(args, store, "--classifier", "demo", "--name", "again")
    check(r.returncode == 2 and "exists already" in r.stderr, "an existing name is refused")
    check(file_hash(store) == h and not os.path.exists(store + ".rescore.tmp"),
          "... and the store is untouched")

    with open(store + ".journal", "rb") as lock:  # what a running writer holds
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = rescore(args, store, "--classifier", "demo", "--name", "other")
        fcntl.flock(lock, fcntl.LOCK_UN)
    check(r.returncode == 2 and "open for writing" in r.stderr, "a locked store is refused")
    check(file_hash(store) == h and not os.path.exists(store + ".rescore.tmp"),
          "... and the store is untouched")

    r = rescore(args, store, "--classifier", "demo", "--name", "bad/name")
    check(r.returncode == 2, "a name with '/' is refused")

    ts = torchscript_classifier(os.path.join(args.scratch, "tiny10.pt"), 10)
    if ts:
        r = rescore(args, store, "--classifier", ts)
        check(r.returncode == 2 and "classes" in r.stderr,
              "a classifier with fewer classes than the labels need is refused")
        check(file_hash(store) == h, "... and the store is untouched")

    # A rescore killed while it writes its copy leaves the store as it was (and the copy,
    # which the next rescore replaces). Compared object by object: like any writer killed
    # with -9 (`mgsweep run` too), it leaves HDF5's "open for writing" superblock flag set,
    # which HDF5 does not enforce on the store's superblock version 0 (see store.h).
    # The kill is sent when the rescore reports its first stage done; a slow classifier keeps
    # the other two stages going for seconds, and a rescore that ended first is a failure.
    slow = torchscript_classifier(os.path.join(args.scratch, "slow600.pt"), 600, slow=True)
    snap = snapshot(store)
    cmd = [args.mgsweep, "rescore", store, "--threads", "1", "--classifier", slow, "--name",
           "killed"]
    print("+", " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, env=ENV, stderr=subprocess.PIPE, text=True)
    first_stage = None
    for line in proc.stderr:
        print(line, end="", flush=True)
        if re.match(r"rescore: \w+ (\d+)/\1 items$", line.strip()):
            first_stage = line.strip()
            break
    alive = proc.poll() is None
    proc.kill()
    proc.wait()
    check(first_stage is not None and alive,
          f"the rescore was killed mid-way, after its first stage ({first_stage}), still running")
    check(os.path.exists(store + ".rescore.tmp"), "... while it wrote its copy")
    check(snapshot(store) == snap, "a rescore killed with -9 leaves the store's objects as they were")
    check(run([args.mgsweep, "status", store]).returncode == 0, "... and it still opens")

    r = rescore(args, store, "--classifier", "demo", "--name", "again", "--force")
    check(r.returncode == 0, "--force replaces an existing name")
    check(not os.path.exists(store + ".rescore.tmp"), "... and no temporary file is left")
    with h5py.File(store, "r", locking=False) as f:
        check(same_bits(f, "baseline/logits", "rescore/again/baseline/logits"),
              "... with the same scores")

    # A live run: rescore must refuse while `mgsweep run` writes its store. Six times the
    # base job's prompts, so that it is still running when the refused rescore returns; it
    # is proven to have been: it showed progress before, and SIGTERM after makes it exit 75.
    live = os.path.join(args.scratch, "live.h5")
    for p in (live, live + ".journal"):
        if os.path.exists(p):
            os.remove(p)
    proc = subprocess.Popen([args.mgsweep, "run", write_job(args.scratch, live, per_concept=24),
                             "--threads", "1"], env=ENV)
    t0 = time.time()
    while proc.poll() is None and time.time() - t0 < 300:
        state = progress(live)
        if state is not None and state[0] > 0:
            break
        time.sleep(0.02)
    check(proc.poll() is None, f"the live run shows progress while it runs ({progress(live)})")
    r = rescore(args, live, "--classifier", "demo")
    check(r.returncode == 2 and "open for writing" in r.stderr,
          "a store that a running `mgsweep run` writes is refused")
    still_running = proc.poll() is None
    proc.terminate()
    rc = proc.wait()
    check(still_running and rc == EXIT_PREEMPTED,
          f"... and the run was writing all along (SIGTERM after the refusal: exit status {rc})")
    check(not os.path.exists(live + ".rescore.tmp"), "... no temporary file")
    return True


def case_partial(args):
    store = copy_store(base_store(args), os.path.join(args.scratch, "partial.h5"))
    # Unset some done flags (as an unfinished run leaves them): concept 1 prompt 1, one lens
    # item, and the first intervention group.
    with h5py.File(store, "r+", locking=False) as f:
        f["baseline/done"][1, 1] = 0
        f["lens/done"][0, 2, 1] = 0
        f["interventions/done"][0, 0, 0, :] = 0
        f["extremes/done"][0] = 0
        pairs = f["interventions/pairs"][()]
    r = rescore(args, store, "--classifier", "demo", "--name", "p")
    check(r.returncode == 0, "rescore of a partial store succeeds")
    with h5py.File(store, "r", locking=False) as f:
        g = f["rescore/p"]
        bl, bn = g["baseline/logits"][()], g["baseline/ndcg"][()]
        check(np.all(np.isnan(bl[1, 1])) and np.isnan(bn[1, 1]), "NaN where a baseline is not done")
        mask = f["baseline/done"][()] == 1
        check(np.all(np.isfinite(bl[mask])), "finite where done")
        ll = g["lens/logits"][()]
        check(np.all(np.isnan(ll[0, 2, 1])) and np.isnan(g["lens/ndcg"][0, 2, 1]),
              "NaN where a lens item is not done")
        check(np.all(np.isfinite(ll[f["lens/done"][()] == 1])), "finite where done")
        il, ie = g["interventions/logits"][()], g["interventions/effect"][()]
        check(np.all(np.isnan(il[0, 0, 0])) and np.all(np.isnan(ie[0, 0, 0])),
              "NaN where an intervention is not done")
        done = f["interventions/done"][()] == 1
        # Interventions of prompt 1 of concept 1 have no baseline now: NaN, status 1.
        q1 = [q for q in range(len(pairs)) if pairs[q][0] == 1]
        st = g["interventions/status"][()]
        check(all(np.all(np.isnan(ie[:, q, 1])) and np.all(st[:, q, 1] == 1) for q in q1),
              "NaN effect (status non_finite_before) where the baseline is not done")
        keep = done.copy()
        for q in q1:
            keep[:, q, 1] = False
        check(np.all(np.isfinite(ie[keep])), "finite effects elsewhere")
    return True


def wav_info(path):
    """(format tag, channels, rate, bits, frames, samples) of a WAV, parsed by hand."""
    data = open(path, "rb").read()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", "not a RIFF/WAVE file"
    pos, fmt, samples = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, ch, rate, _, align, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, ch, rate, bits, align)
        elif cid == b"data":
            samples = np.frombuffer(body, dtype="<f4")
        pos += 8 + size + (size & 1)
    tag, ch, rate, bits, align = fmt
    return tag, ch, rate, bits, len(samples) // ch, samples


def case_export(args):
    store = copy_store(base_store(args), os.path.join(args.scratch, "export.h5"))
    cfg = json.load(open(os.path.join(args.scratch, "model", "config.json")))
    rate = cfg["audio_encoder"]["sampling_rate"]
    hop = int(np.prod(cfg["audio_encoder"]["upsampling_ratios"]))
    out = os.path.join(args.scratch, "exported")
    shutil.rmtree(out, ignore_errors=True)
    r = run([args.mgsweep, "export-audio", store, "--extremes", "--baseline", "--out", out,
             "--threads", "1"])
    check(r.returncode == 0, "export-audio --extremes --baseline succeeds")
    with h5py.File(store, "r", locking=False) as f:
        C, P, K, T = f["baseline/codes"].shape
        top, bottom = f["extremes/top"][()], f["extremes/bottom"][()]
        nT, nQ = top.shape[:2]
        techniques = [t.decode() for t in f["interventions/techniques"][()]]
        targets = [t.decode() for t in f["interventions/targets"][()]]
        concepts = [c.decode() for c in f["concepts"][()]]
        pairs = f["interventions/pairs"][()]
    wavs = sorted(os.path.join(d, n) for d, _, ns in os.walk(out) for n in ns)
    check(all(w.endswith(".wav") for w in wavs), "only WAVs are written")
    expected = C * P + nT * nQ * P + int((top >= 0).sum() + (bottom >= 0).sum())
    check(len(wavs) == expected, f"{len(wavs)} WAVs written, {expected} expected")
    a, b = pairs[0]
    d = os.path.join(out, "extremes", techniques[0], f"{concepts[a]}_to_{concepts[b]}")
    j = top[0, 0, 0, 0]
    check(os.path.exists(os.path.join(d, f"prompt0_top1_{targets[j]}.wav")), "top-1 file name")
    check(os.path.exists(os.path.join(d, "prompt0_baseline.wav")), "baseline beside them")
    check(os.path.exists(os.path.join(out, "baseline", concepts[0], "prompt0.wav")),
          "baseline/<concept>/prompt0.wav")
    ok = True
    for w in wavs:
        tag, ch, wrate, bits, frames, samples = wav_info(w)
        ok = ok and tag == 3 and bits == 32 and wrate == rate and ch == 1 and frames == T * hop
        ok = ok and bool(np.all(np.isfinite(samples))) and bool(np.any(samples != 0))
    check(ok, f"every WAV is 32-bit float, {rate} Hz, mono, {T * hop} samples, finite, not silent")

    # The default folder: <store stem>_audio beside the store.
    default = os.path.join(args.scratch, "export_audio")  # store export.h5 -> export_audio
    shutil.rmtree(default, ignore_errors=True)
    r = run([args.mgsweep, "export-audio", store, "--baseline", "--threads", "1"])
    check(r.returncode == 0 and len(os.listdir(os.path.join(default, "baseline"))) == C,
          "default folder <store stem>_audio")

    r = run([args.mgsweep, "export-audio", store])
    check(r.returncode == 2 and "nothing to export" in r.stderr, "no flag: a clear error")
    with h5py.File(store, "r+", locking=False) as f:
        f["extremes/done"][0] = 0
    r = run([args.mgsweep, "export-audio", store, "--extremes", "--out", out + "_x"])
    check(r.returncode == 2 and "not computed yet" in r.stderr,
          "extremes not done: a clear error")
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mgsweep", required=True)
    ap.add_argument("--scratch", required=True)
    ap.add_argument("case", choices=["rescore_same", "refuse", "partial", "export"])
    args = ap.parse_args()
    args.mgsweep = os.path.abspath(args.mgsweep)
    os.makedirs(args.scratch, exist_ok=True)
    globals()["case_" + args.case](args)
    print("FAIL: " + "; ".join(failures) if failures else "PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
