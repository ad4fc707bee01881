#!/usr/bin/env python3
"""The oracle test (tests/oracle/README.md): mgsweep's store against an independent Python
reference implementation of the paper's experiments, dataset by dataset.

    python run_oracle.py --mgsweep build/src/mgsweep --scratch DIR [--repo DIR] [--threads N]

1. exports the real PaSST architecture with random weights for the job's clip length
   (tools/export_passt.py --random-weights, cached in DIR by the script's hash);
2. runs `mgsweep run` on tests/oracle/oracle_job.toml (every stage, blocks) and
   oracle_heads_job.toml (head sites on a step window);
3. recomputes every dataset with mgoracle.py (transformers' MusicGen + hooks);
4. compares every dataset of both stores and prints one table (also DIR/oracle_table.txt);
5. runs paper_prompts_job.toml (the paper's ten concepts, 100 prompts each, a 1-frame baseline)
   and compares its /prompts and /concepts with the original prompt generator's rules.

Exit status: 0 all PASS, 1 any FAIL (a missing Python package too: the message names the pip
command), 77 skipped, only when MGSWEEP_SKIP_ORACLE=1.
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_DEFAULT = os.path.dirname(os.path.dirname(HERE))
SKIP = 77
PASST_SEED = 7


def check_packages():
    """Every package the oracle needs, or exit 1 with the install command (never skip)."""
    import importlib.util
    missing = []
    # Presence only (find_spec): importing transformers here, before mgoracle hides a broken
    # torchaudio, would make transformers believe that torchaudio works.
    for mod, pkg in [("numpy", "numpy"), ("h5py", "h5py"), ("torch", "torch"),
                     ("transformers", "transformers"), ("safetensors", "safetensors"),
                     ("tokenizers", "tokenizers"), ("hear21passt", "hear21passt"), ("timm", "timm")]:
        try:
            if importlib.util.find_spec(mod) is None:
                missing.append(pkg)
        except (ImportError, ValueError) as e:
            missing.append(f"{pkg} ({e})")
    if missing:
        py = sys.executable
        print("oracle: FAIL: missing Python packages for the oracle test: " + "; ".join(missing))
        print("oracle: install them with\n"
              f"    {py} -m pip install -r tools/requirements-torch.txt -r tests/requirements-diff.txt\n"
              "(tools/setup.sh does this), or opt out explicitly with MGSWEEP_SKIP_ORACLE=1")
        sys.exit(1)


def run(cmd, env=None, cwd=None):
    print("+ " + " ".join(cmd), flush=True)
    t = time.time()
    r = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail = "\n".join(r.stdout.strip().splitlines()[-3:])
    if r.returncode != 0:
        print(r.stdout)
        raise SystemExit(f"oracle: FAIL: {cmd[0]} exited with {r.returncode}")
    print(f"  ({time.time() - t:.1f} s) {tail}", flush=True)
    return r.stdout


def export_classifier(repo, scratch, samples):
    """tools/export_passt.py --random-weights for exactly `samples` samples, cached by the hash of
    the export script, the seed, the length and the torch version."""
    import torch
    script = os.path.join(repo, "tools", "export_passt.py")
    h = hashlib.sha256(open(script, "rb").read())
    h.update(f"{PASST_SEED}:{samples}:{torch.__version__}".encode())
    path = os.path.join(scratch, f"passt_{h.hexdigest()[:16]}.pt")
    if not os.path.exists(path):
        for old in os.listdir(scratch):  # one cached file at a time (each is ~350 MB)
            if old.startswith("passt_") and old.endswith(".pt"):
                os.remove(os.path.join(scratch, old))
        run([sys.executable, script, "--random-weights", "--seed", str(PASST_SEED),
             "--input-samples", str(samples), "--out", path + ".tmp"], cwd=repo)
        os.replace(path + ".tmp", path)
    else:
        print(f"oracle: classifier {path} (cached)")
    return path


def write_job(repo, src, dst, store, classifier=None):
    text = open(src).read()
    text = text.replace("../../configs/", os.path.join(repo, "configs") + "/")
    text = text.replace("STORE_PATH", store)
    if classifier:
        text = text.replace("CLASSIFIER_PATH", classifier)
    with open(dst, "w") as f:
        f.write(text)
    return dst


# --------------------------------------------------------------------------------------------
# Comparison


class Table:
    def __init__(self):
        self.rows = []  # (job, dataset, n, maxdiff, tol, ok, note)

    def add(self, job, name, n, diff, tol, ok, note=""):
        self.rows.append((job, name, n, diff, tol, bool(ok), note))

    def render(self):
        def fmt(x):
            if isinstance(x, str):
                return x
            if x == 0:
                return "0"
            return f"{x:.3g}"
        head = ("job", "dataset", "n compared", "max abs diff", "tolerance", "result")
        body = [(j, d, str(n), fmt(m), fmt(t), "PASS" if ok else "FAIL") for j, d, n, m, t, ok, _ in self.rows]
        w = [max(len(r[i]) for r in [head] + body) for i in range(6)]
        line = lambda r: "| " + " | ".join(c.ljust(w[i]) for i, c in enumerate(r)) + " |"  # noqa: E731
        out = [line(head), "|" + "|".join("-" * (x + 2) for x in w) + "|"]
        out += [line(r) for r in body]
        notes = [(j, d, note) for j, d, _, _, _, _, note in self.rows if note]
        if notes:
            out.append("")
            out += [f"note: {j} {d}: {n}" for j, d, n in notes]
        return "\n".join(out)

    @property
    def failed(self):
        return [r for r in self.rows if not r[5]]


def as_str_list(a):
    import numpy as np
    return [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(a).ravel()]


def compare_job(tag, store_path, res, table):
    """Every dataset of the store: against the oracle (end to end), and where a number is a
    function of other stored numbers, also against that function of the store's own inputs."""
    import h5py
    import numpy as np
    import mgoracle as mo

    job = res["_job"]
    f = h5py.File(store_path, "r")
    schema = f.attrs.get("schema")
    schema = schema.decode() if isinstance(schema, bytes) else str(schema)
    table.add(tag, "@schema", 1, "-" if schema == "mgsweep.store/3" else schema, "exact",
              schema == "mgsweep.store/3",
              "" if schema == "mgsweep.store/3" else
              f"store schema is {schema}: not this mgsweep's (precision direction, "
              "ideal_precision, checksums: README \"Store schemas\")")
    names = []
    f.visititems(lambda n, o: names.append("/" + n) if isinstance(o, h5py.Dataset) else None)
    seen = set()

    def S(name):
        seen.add(name)
        return f[name][()]

    def O(name):
        return res[name]

    def exact(name):
        if name not in res:
            table.add(tag, name, 0, "-", "exact", False, "the oracle has no value for it")
            seen.add(name)
            return
        s, o = S(name), O(name)
        if s.dtype == object or o.dtype == object:
            a, b = as_str_list(s), as_str_list(o)
            ok = a == b and np.asarray(s).shape == np.asarray(o).shape
            bad = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
            table.add(tag, name, len(b), "-" if ok else f"{len(bad)} differ", "exact", ok,
                      "" if ok else f"first: store {a[bad[0]]!r} oracle {b[bad[0]]!r}" if bad else "length")
            return
        if s.shape != o.shape:
            table.add(tag, name, o.size, "shape", "exact", False, f"store {s.shape} oracle {o.shape}")
            return
        d = np.abs(s.astype(np.int64) - o.astype(np.int64))
        note = ""
        if d.max() > 0:
            idx = np.argwhere(d > 0)
            note = f"{len(idx)} entries differ, first at index {tuple(int(i) for i in idx[0])}"
        table.add(tag, name, o.size, int(d.max()), "exact", d.max() == 0, note)

    def close(name, tol, s=None, o=None, label=None, scale_note=""):
        label = label or name
        if s is None:
            if name not in names:
                table.add(tag, label, 0, "-", "-", False, "missing from the store")
                return None
            s = S(name)
        if o is None:
            if name not in res:
                table.add(tag, label, 0, "-", "-", False, "the oracle has no value for it")
                return None
            o = O(name)
        s = np.asarray(s, np.float64)
        o = np.asarray(o, np.float64)
        if s.shape != o.shape:
            table.add(tag, label, o.size, "shape", tol, False, f"store {s.shape} oracle {o.shape}")
            return None
        bad = ~np.isfinite(s)
        d = np.where(bad, np.inf, np.abs(s - o))
        mx = float(d.max()) if d.size else 0.0
        note = scale_note
        if mx > tol:
            idx = np.argwhere(d > tol)
            note = (f"{len(idx)} of {d.size} over tolerance; worst at "
                    f"{tuple(int(i) for i in np.unravel_index(np.argmax(d), d.shape))}")
        table.add(tag, label, o.size, mx, tol, mx <= tol, note)
        return d

    def rel_tol(name, floor=1.0, rel=1e-4):
        return rel * max(floor, float(np.abs(np.asarray(res[name], np.float64)).max()))

    C, P = len(job.concepts), job.per_concept
    # ---- labels and prompts
    exact("/concepts")
    exact("/prompts")
    # ---- baseline
    exact("/baseline/codes")
    close("/baseline/logits", rel_tol("/baseline/logits"))
    close("/baseline/ndcg", 1e-4)
    sl = S("/baseline/logits")
    close("/baseline/ndcg", 1e-9, o=[[mo.ndcg(sl[c, p], job.concepts[c]["relevant"]) for p in range(P)]
                                     for c in range(C)], label="/baseline/ndcg (of the store's logits)")
    table.add(tag, "/baseline/done", C * P, int((S("/baseline/done") != 1).sum()), "all 1",
              bool((S("/baseline/done") == 1).all()))
    if "/baseline/self_similarity" in names:
        close("/baseline/self_similarity", rel_tol("/baseline/self_similarity"))
    # ---- means
    if "/means/sites" in names:
        exact("/means/sites")
        for n in ("/means/blocks", "/means/blocks_frame_avg", "/means/heads", "/means/heads_frame_avg"):
            if n in names or n in res:
                close(n, rel_tol(n))
        table.add(tag, "/means/done", C, int((S("/means/done") != 1).sum()), "all 1",
                  bool((S("/means/done") == 1).all()))
    # ---- lens
    if job.lens:
        exact("/lens/k")
        exact("/lens/codes")
        close("/lens/logits", rel_tol("/lens/logits"))
        close("/lens/ndcg", 1e-4)
        ll = S("/lens/logits")
        close("/lens/ndcg", 1e-9, o=[[[mo.ndcg(ll[c, p, k], job.concepts[c]["relevant"])
                                       for k in range(ll.shape[2])] for p in range(P)] for c in range(C)],
              label="/lens/ndcg (of the store's logits)")
        done = S("/lens/done")
        table.add(tag, "/lens/done", done.size, int((done != 1).sum()), "all 1", bool((done == 1).all()))
    # ---- interventions
    if job.interventions:
        for n in ("/interventions/pairs", "/interventions/techniques", "/interventions/targets"):
            exact(n)
        exact("/interventions/codes")
        close("/interventions/logits", rel_tol("/interventions/logits"))
        for n in ("/interventions/effect", "/interventions/effect_original", "/interventions/effect_desired"):
            close(n, rel_tol(n))
        for n in ("/interventions/precision", "/interventions/ideal_precision"):
            close(n, rel_tol(n, floor=0.0))
        exact("/interventions/status")
        done = S("/interventions/done")
        table.add(tag, "/interventions/done", done.size, int((done != 1).sum()), "all 1", bool((done == 1).all()))
        # The scores as functions of the store's own logits (the metric code alone, in fp64).
        il, bl = S("/interventions/logits"), S("/baseline/logits")
        nT, nQ, _, J = il.shape[:4]
        own = {k: np.zeros((nT, nQ, P, J)) for k in ("effect", "effect_original", "effect_desired", "precision")}
        own_ideal = np.zeros((nQ, P))
        old_dir = np.zeros((nT, nQ, P, J))
        for qi, (a, b) in enumerate(job.pairs):
            la, lb = job.concepts[a]["label"], job.concepts[b]["label"]
            for p in range(P):
                own_ideal[qi, p] = mo.ideal_precision(bl[a, p], la, lb)
                for ti in range(nT):
                    for j in range(J):
                        e, eo, ed, pr = mo.intervention_scores(bl[a, p], il[ti, qi, p, j], la, lb)
                        own["effect"][ti, qi, p, j], own["effect_original"][ti, qi, p, j] = e, eo
                        own["effect_desired"][ti, qi, p, j], own["precision"][ti, qi, p, j] = ed, pr
                        lp, lq = mo.log_softmax64(bl[a, p]), mo.log_softmax64(il[ti, qi, p, j])
                        old_dir[ti, qi, p, j] = -float((np.exp(lp) * (lp - lq)).sum())
        for k, v in own.items():
            n = "/interventions/" + k
            if n in names:
                close(n, 1e-9 * max(1.0, float(np.abs(v).max())), s=f[n][()], o=v,
                      label=n + " (of the store's logits)")
        if "/interventions/ideal_precision" in names:
            close("/interventions/ideal_precision", 1e-9, s=f["/interventions/ideal_precision"][()],
                  o=own_ideal, label="/interventions/ideal_precision (of the store's logits)")
        # How far the old direction, -KL(before || after), is from the oracle: the comparison
        # above can tell the two apart only if this is well over its tolerance.
        res["_sensitivity_precision"] = (float(np.abs(old_dir - O("/interventions/precision")).max()),
                                         rel_tol("/interventions/precision", floor=0.0))
        # Coverage: interventions that change the codes (an oracle that agrees on no-ops only
        # would prove nothing): per technique, per component kind, per window.
        bc, ic = O("/baseline/codes"), O("/interventions/codes")
        changed = np.zeros((nT, nQ, P, J), bool)
        for qi, (a, _) in enumerate(job.pairs):
            changed[:, qi] = (ic[:, qi] != bc[a][None, :, None]).any((-1, -2))
        groups = {}
        for j, (site, win) in enumerate(job.targets):
            kind = site[1] + (".head" if site[2] is not None else "")
            wname = "whole" if (win[0] == 0 and win[1] is None) else f"@{win[0]}-{win[1]}"
            for ti, t in enumerate(job.techniques):
                groups.setdefault(f"{t}/{kind}/{wname}", []).append(changed[ti, :, :, j].ravel())
        cov = {g: float(np.concatenate(v).mean()) for g, v in groups.items()}
        never = [g for g, v in cov.items() if v == 0]
        table.add(tag, "coverage: items changing codes", int(changed.size), "-", "each group > 0",
                  not never, ("never changed: " + ", ".join(never)) if never else
                  f"{changed.mean():.0%} of items; per technique/component/window "
                  + ", ".join(f"{g} {v:.0%}" for g, v in sorted(cov.items())))
    # ---- extremes
    if job.extremes and job.interventions:
        eff_o = O("/interventions/effect")
        seff = f["/interventions/effect"][()]
        tol = rel_tol("/interventions/effect")
        for which, sign in (("top", -1.0), ("bottom", 1.0)):
            n = "/extremes/" + which
            si = S(n)
            k = si.shape[-1]
            # end to end: the oracle's effects at the store's picks are the oracle's k extremes
            # (ties and near-ties within the effect tolerance may pick other indices)
            picked = np.sort(sign * np.take_along_axis(eff_o, si, -1), -1)
            best = np.sort(sign * eff_o, -1)[..., :k]
            same = int((np.sort(si, -1) == np.sort(O(n), -1)).all(-1).sum())
            close(n, tol, s=picked, o=best, label=n + " (oracle effect at the store's picks)",
                  scale_note=f"same index set as the oracle's in {same} of {si[..., 0].size} cells"
                  + ("" if same == si[..., 0].size else " (the others pick among effects tied within the tolerance)"))
            # the extremes of the store's own effects, exactly, with distinct indices
            picked_s = np.sort(sign * np.take_along_axis(seff, si, -1), -1)
            best_s = np.sort(sign * seff, -1)[..., :k]
            distinct = all(len(set(r)) == k for r in si.reshape(-1, k).tolist())
            d = float(np.abs(picked_s - best_s).max())
            table.add(tag, n + " (of the store's effects)", si[..., 0].size, d, "exact",
                      d == 0 and distinct, "" if distinct else "repeated indices")
        table.add(tag, "/extremes/done", 1, int((S("/extremes/done") != 1).sum()), "all 1",
                  bool((S("/extremes/done") == 1).all()))
    # ---- meta
    items = S("/meta/stage_items")
    want = [C * P, C * P * len(job.lens_k) if job.lens else 0,
            len(job.techniques) * len(job.pairs) * P * len(job.targets) if job.interventions else 0]
    table.add(tag, "/meta/stage_items", 3, int(np.abs(items - np.array(want)).max()), "exact",
              list(items) == want, f"store {list(items)} expected {want}" if list(items) != want else "")
    secs = S("/meta/stage_seconds")
    table.add(tag, "/meta/stage_seconds", 3, "-", "finite >= 0", bool(np.all(np.isfinite(secs) & (secs >= 0))))
    gen = S("/_store/generation")
    table.add(tag, "/_store/generation", 1, "-", ">= 1", bool(gen[0] >= 1))
    # ---- checksums: CRC-32C of each item's stored bytes, recomputed in Python (README)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import store_checksums
    try:
        import crc32c as crc_pkg
        crc = lambda b, value=0: crc_pkg.crc32c(b, value)  # noqa: E731
    except ImportError:
        crc = store_checksums.crc32c
    for n, want in store_checksums.expected_checksums(f, crc).items():
        got = S(n)
        bad = int((got != want).sum()) if got.shape == want.shape else got.size
        table.add(tag, n, want.size, bad, "exact", got.dtype == np.int64 and bad == 0,
                  "" if bad == 0 else f"{bad} items' checksums differ from CRC-32C of their bytes")
    # ---- anything else is a dataset this test does not know: fail, so that it gets a rule
    for n in names:
        if n not in seen:
            table.add(tag, n, 0, "-", "-", False, "no oracle rule for this dataset: add one")
    f.close()


def compare_paper_prompts(store_path, table, repo):
    import h5py
    import mgoracle as mo
    f = h5py.File(store_path, "r")
    names = [n for n, _ in mo.PAPER_CONCEPTS]
    got_c = as_str_list(f["/concepts"][()])
    table.add("paper", "/concepts", len(names), "-" if got_c == names else "differ", "exact", got_c == names)
    want = []
    for i, n in enumerate(names):  # intervention_main.py: keys < 4 are instruments
        want += mo.original_prompts(n, "[INSTRUMENTS]" if i < 4 else "[GENRE]", 100, 1000)
    got = as_str_list(f["/prompts"][()])
    bad = [i for i, (a, b) in enumerate(zip(got, want)) if a != b]
    ok = not bad and len(got) == len(want)
    table.add("paper", "/prompts (100 per concept)", len(want), "-" if ok else f"{len(bad)} differ",
              "exact", ok, "" if ok else (f"first at {bad[0]}: store {got[bad[0]]!r} original "
                                          f"{want[bad[0]]!r}" if bad else f"{len(got)} prompts"))
    f.close()
    # configs/paper_concepts.toml's odds labels are the original code's hard-coded ids
    cfg = mo.load_toml_with_includes(os.path.join(repo, "configs", "paper_concepts.toml"))
    diff = [(n, cfg["concept"][n]["label"], lab) for n, lab in mo.PAPER_CONCEPTS
            if cfg["concept"][n]["label"] != lab]
    table.add("paper", "concept labels vs intervention_main.py", len(names), "-" if not diff else str(diff),
              "exact", not diff)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mgsweep", required=True)
    ap.add_argument("--scratch", required=True)
    ap.add_argument("--repo", default=REPO_DEFAULT)
    ap.add_argument("--threads", type=int, default=2, help="mgsweep run --threads")
    ap.add_argument("--oracle-threads", type=int, default=1,
                    help="torch threads of the oracle (1: on a shared 2-core machine more threads "
                         "spin and cost several times the CPU time)")
    ap.add_argument("--reuse-stores", action="store_true",
                    help="keep the stores of a previous run in --scratch instead of running mgsweep "
                         "again (for working on the oracle, e.g. with MGORACLE_MUTATE)")
    args = ap.parse_args()
    if os.environ.get("MGSWEEP_SKIP_ORACLE") == "1":
        print("oracle: skipped (MGSWEEP_SKIP_ORACLE=1)")
        return SKIP
    check_packages()
    t0 = time.time()
    repo = os.path.abspath(args.repo)
    scratch = os.path.abspath(args.scratch)
    os.makedirs(scratch, exist_ok=True)
    sys.path.insert(0, HERE)
    import torch
    torch.set_num_threads(args.oracle_threads)
    import mgoracle as mo

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    jobs = [("main", "oracle_job.toml"), ("heads", "oracle_heads_job.toml")]
    # the classifier: exported for the generation length (frames x samples per frame)
    j0 = mo.load_toml_with_includes(os.path.join(HERE, jobs[0][1]))
    for _, name in jobs[1:]:  # one classifier file serves every job: the same clip length
        jn = mo.load_toml_with_includes(os.path.join(HERE, name))
        if jn["generation"]["frames"] != j0["generation"]["frames"] or jn["model"] != j0["model"]:
            raise SystemExit(f"oracle: {name} must use the model and frames of {jobs[0][1]}")
    acfg = json.load(open(os.path.join(repo, j0["model"], "config.json")))["audio_encoder"]
    hop = 1
    for r in acfg["upsampling_ratios"]:
        hop *= r
    classifier = export_classifier(repo, scratch, int(j0["generation"]["frames"]) * hop)

    table = Table()
    timing = {}
    t = time.time()
    for name, n, d, tol in mo.golden_selfcheck(os.path.join(repo, "tests", "golden", "tiny")):
        table.add("golden", name, n, d, "exact" if tol == 0 else tol, d <= tol)
    timing["oracle vs audiocraft golden"] = time.time() - t
    for tag, name in jobs:
        store = os.path.join(scratch, f"{tag}.h5")
        jp = write_job(repo, os.path.join(HERE, name), os.path.join(scratch, name), store, classifier)
        if not (args.reuse_stores and os.path.exists(store)):
            for p in (store, store + ".journal"):
                if os.path.exists(p):
                    os.remove(p)
            t = time.time()
            run([os.path.abspath(args.mgsweep), "run", jp, "--store", store, "--threads", str(args.threads)],
                env=env, cwd=repo)
            timing[f"mgsweep {tag}"] = time.time() - t
        t = time.time()
        res = mo.run_job(jp, repo, log=lambda m: print("  " + m, flush=True))
        timing[f"oracle {tag}"] = time.time() - t
        compare_job(tag, store, res, table)
        if "_sensitivity_precision" in res:
            timing[f"sens {tag}"] = res["_sensitivity_precision"]

    store = os.path.join(scratch, "paper_prompts.h5")
    for p in (store, store + ".journal"):
        if os.path.exists(p):
            os.remove(p)
    jp = write_job(repo, os.path.join(HERE, "paper_prompts_job.toml"),
                   os.path.join(scratch, "paper_prompts_job.toml"), store)
    t = time.time()
    run([os.path.abspath(args.mgsweep), "run", jp, "--store", store, "--threads", str(args.threads)],
        env=env, cwd=repo)
    timing["mgsweep paper prompts"] = time.time() - t
    compare_paper_prompts(store, table, repo)

    text = table.render()
    extra = []
    for k, v in timing.items():
        if k.startswith("sens "):
            extra.append(f"sensitivity ({k[5:]}): precision with the old direction -KL(before||after) "
                         f"would be off by {v[0]:.3g} (tolerance {v[1]:.3g})")
    extra.append("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timing.items() if not k.startswith("sens "))
                 + f", total {time.time() - t0:.1f} s")
    verdict = (f"oracle: {len(table.rows) - len(table.failed)} of {len(table.rows)} checks PASS"
               + ("" if not table.failed else f", {len(table.failed)} FAIL"))
    full = "\n".join([text, ""] + extra + [verdict])
    print("\n" + full)
    with open(os.path.join(scratch, "oracle_table.txt"), "w") as fo:
        fo.write(full + "\n")
    print(f"(table saved to {os.path.join(scratch, 'oracle_table.txt')})")
    return 1 if table.failed else 0


if __name__ == "__main__":
    sys.exit(main())
