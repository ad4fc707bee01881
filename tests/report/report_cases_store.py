"""The run_report_test.py cases that check the Python reader against stores: reader (dims,
coordinates, values, laziness), partial (items not done), journal (kill -9, resume) and schema
(schema 1 and newer schemas, `mgsweep migrate`)."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

from report_common import (
    BLOCKS,
    ENV,
    REPO,
    check,
    copy_store,
    import_mgsweep,
    need,
    read_csv,
    run,
    stores,
    write_job,
)


def case_reader(args):
    mgsweep = import_mgsweep()
    blocks, heads = stores(args)
    t = time.time()
    st = mgsweep.open_store(blocks)
    check(time.time() - t < 5, f"open_store takes {time.time() - t:.2f} s")
    iv = st["interventions"]
    check(iv.effect.dims == ("technique", "pair", "prompt", "target"), "effect dims")
    check(iv.logits.dims[-1] == "class" and iv.codes.dims[-2:] == ("codebook", "frame"),
          "logits/codes dims")
    check(list(st["concept"].values) == ["guitar", "piano", "rock", "electronic"] and
          list(st["concept_label"].values) == ["Guitar", "Piano", "Rock", "EDM"], "concept labels")
    check(list(st["category"].values) == ["instrument", "instrument", "genre", "genre"],
          "concept categories")
    check(set(iv["component"].values) == {"self_attn", "cross_attn", "mlp"} and
          set(iv["window"].values) == {"all", "0-6", "6-end"}, "target coordinates")
    check(list(iv["pair"].values)[:2] == ["guitar->piano", "rock->electronic"] and
          list(iv["pair_category"].values) == ["Inter: Instrument-Instrument", "Inter: Genre-Genre",
                                               "Cross: Instrument-Genre", "Cross: Genre-Instrument"],
          "pair coordinates")
    lens = st["lens"]
    check(lens.ndcg.dims == ("concept", "prompt", "layer") and list(lens["k"].values) ==
          [1, 2, 3, 4] and list(lens["layer"].values) == [0, 1, 2, 3], "lens layer/k")
    check(st["means"].blocks.dims == ("concept", "site", "step", "hidden"), "means dims")
    with h5py.File(blocks, "r", locking=False) as f:
        check(np.array_equal(iv.effect.values, f["interventions/effect"][()], equal_nan=True),
              "effect equals h5py's")
        check(np.array_equal(iv.codes.isel(technique=1, pair=2).values,
                             f["interventions/codes"][1, 2]), "codes equal h5py's (a slice)")
        check(np.array_equal(st["baseline"].logits.values, f["baseline/logits"][()],
                             equal_nan=True), "baseline logits equal h5py's")
        check(np.array_equal(iv.precision.sel(technique="adjust").isel(target=slice(None, None, -2))
                             .values, f["interventions/precision"][1][..., ::-2], equal_nan=True),
              "a strided, reversed slice equals h5py's")
    u = mgsweep.unstack_targets(iv.effect)
    check(u.dims == ("technique", "pair", "prompt", "component", "layer", "head", "window"),
          f"unstack_targets dims {u.dims}")
    v = float(u.sel(technique="replace", pair="guitar->piano", prompt=1, component="mlp", layer=2,
                    head=-1, window="0-6"))
    check(v == float(iv.effect.sel(technique="replace", pair="guitar->piano", prompt=1,
                                   target="layers.2.mlp@0-6")), "unstack_targets values")
    mlp = iv.effect.where(iv.component == "mlp", drop=True).groupby("layer").mean(...)
    check(mlp.sizes["layer"] == 4, "xarray operations that copy (where, groupby) work")
    # Laziness: the codes of every intervention are not read at opening.
    check(type(iv.variables["codes"]._data).__name__ != "ndarray", "codes stay lazy")
    st.close()
    hs = mgsweep.open_store(heads)
    hiv = hs["interventions"]
    check(set(hiv["head"].values) == {0, 1, 2, 3} and "lens" not in hs.children,
          "head targets; no lens node without a lens stage")
    check(hs["means"].heads.dims == ("concept", "head_site", "step", "head_dim"), "head means")
    return True

def case_partial(args):
    mgsweep = import_mgsweep()
    blocks, _ = stores(args)
    part = os.path.join(args.scratch, "partial.h5")
    copy_store(blocks, part)
    with h5py.File(part, "r+", locking=False) as f:
        f["interventions/done"][:, :, 3, :] = 0  # prompt 3 of every pair not done
        f["interventions/done"][0, 0, 2, :5] = 0
        f["lens/done"][1, :2, :] = 0
        f["extremes/done"][0] = 0
    st = mgsweep.open_store(part)
    eff = st["interventions"].effect.values
    check(np.isnan(eff[:, :, 3, :]).all() and np.isnan(eff[0, 0, 2, :5]).all() and
          np.isfinite(eff[0, 0, 2, 5:]).all(), "items not done are NaN")
    codes = st["interventions"].codes.isel(prompt=3).values
    check((codes == -1).all(), "codes of items not done are -1")
    check(np.isnan(st["lens"].ndcg.values[1, :2]).all() and not st.attrs["complete"],
          "lens items not done are NaN; the store is not complete")
    check((st["extremes"].top.values == -1).all(), "extremes not computed: -1")
    st.close()
    out = os.path.join(args.scratch, "report_partial")
    shutil.rmtree(out, ignore_errors=True)
    r = run([args.mgsweep, "report", part, "--out", out, "--no-audio"])
    need(r, "report of a partial store")
    html = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    check("class=partial>PARTIAL STORE blocks" in html, "the page says the store is partial")
    svgs = [os.path.join(out, "figures", n) for n in os.listdir(os.path.join(out, "figures"))
            if n.endswith(".svg")]
    check(svgs and all("PARTIAL" in open(p).read() for p in svgs),
          f"every figure ({len(svgs)}) says PARTIAL")
    rows = read_csv(os.path.join(out, "tables", "interventions_by_layer.csv"))
    check(rows and all(int(r["n"]) == 3 for r in rows), "n counts the 3 prompts with values")
    lens = read_csv(os.path.join(out, "tables", "lens_ndcg.csv"))
    check(all(int(r["n"]) == (2 if r["concept"] == "piano" else 4) for r in lens),
          "lens n counts only done prompts")
    return True


def status_done(args, store):
    r = run([args.mgsweep, "status", store])
    need(r, "mgsweep status")
    return r.stdout


def case_journal(args):
    mgsweep = import_mgsweep()
    stores(args)  # the model
    store = os.path.join(args.scratch, "journal.h5")
    for p in (store, store + ".journal"):
        if os.path.exists(p):
            os.remove(p)
    job = write_job(args, "journal", BLOCKS.replace('name = "blocks"', 'name = "journal"'), store,
                    checkpoint=3600)
    proc = subprocess.Popen([args.mgsweep, "run", job, "--threads", "1"], cwd=REPO, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Read while it runs: the reader opens the store and sees items as they come; the run is
    # killed once the journal holds items that the file does not have yet.
    def items(t):
        return t.attrs["baseline_done"] + t.attrs["lens_done"] + t.attrs["interventions_done"]

    seen, t_end = [], time.time() + 120
    while time.time() < t_end and proc.poll() is None:
        if os.path.exists(store):
            try:
                with mgsweep.open_store(store) as st, \
                        mgsweep.open_store(store, journal=False) as nj:
                    seen.append((items(nj), items(st)))
            except Exception as e:  # noqa: BLE001  (the test reports it)
                check(False, f"open_store while the run writes: {e}")
                break
            if seen[-1][1] > seen[-1][0] and seen[-1][1] > 200:
                break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    check(len(seen) > 1 and seen[-1][1] > seen[-1][0],
          f"read while the run wrote: (items in the file, with the journal) {seen[-3:]}")
    check(all(a[1] <= b[1] for a, b in zip(seen, seen[1:])), "items only grow")
    st = mgsweep.open_store(store)
    nojournal = mgsweep.open_store(store, journal=False)
    n_j, n_f = items(st), items(nojournal)
    check(n_j > n_f and st.attrs["journal_records"] > 0,
          f"after kill -9: {n_j} items with the journal, {n_f} in the file itself")
    status = status_done(args, store)
    want = [f"{k} {st.attrs[k + '_done']}/{st.attrs[k + '_items']}"
            for k in ("baseline", "lens", "interventions")]
    have = [f"{m.group(1)} {m.group(2)}/{m.group(3)}" for m in
            re.finditer(r"^(baseline|lens|interventions)\s+(\d+)\s*/\s*(\d+)", status, re.M)]
    check(want == have, f"`mgsweep status` agrees: {have}")
    snap_eff = st["interventions"].effect.values
    snap_lens = st["lens"].ndcg.values
    st.close(), nojournal.close()
    need(run([args.mgsweep, "run", job, "--threads", "1"]), "resume")
    fin = mgsweep.open_store(store)
    ok = np.isfinite(snap_eff)
    check(ok.any() and np.array_equal(fin["interventions"].effect.values[ok], snap_eff[ok]),
          f"{int(ok.sum())} journal effects equal the resumed store's")
    ok = np.isfinite(snap_lens)
    check(np.array_equal(fin["lens"].ndcg.values[ok], snap_lens[ok]), "journal NDCGs too")
    check(fin.attrs["complete"], "the resumed store is complete")
    return True


def case_schema(args):
    mgsweep = import_mgsweep()
    blocks, _ = stores(args)
    v1 = os.path.join(args.scratch, "schema1.h5")
    copy_store(blocks, v1)
    with h5py.File(blocks, "r", locking=False) as f:
        prec2 = f["interventions/precision"][()]
    with h5py.File(v1, "r+", locking=False) as f:
        f.attrs["schema"] = "mgsweep.store/1"
        del f["interventions/ideal_precision"]
        f["interventions/precision"][...] = -prec2  # a stand-in: anything but schema 2's
    try:
        mgsweep.open_store(v1)
        check(False, "schema 1 is refused")
    except mgsweep.StoreSchemaError as e:
        check(f"mgsweep migrate {v1}" in str(e) and "KL" in str(e),
              f"schema 1 refused naming mgsweep migrate: {str(e)[:100]}...")
    old = mgsweep.open_store(v1, legacy=True)
    iv = old["interventions"]
    check("precision" not in iv and "precision_v1" in iv and "ideal_precision" not in iv and
          "migrate" in iv.precision_v1.attrs["note"], "legacy=True: precision_v1, flagged")
    old.close()
    r = run([args.mgsweep, "report", v1, "--out", os.path.join(args.scratch, "report_v1")])
    check(r.returncode == 2 and "mgsweep migrate" in r.stderr, "mgsweep report refuses schema 1")
    r = run([sys.executable, "-m", "mgsweep.report", v1, "--out",
             os.path.join(args.scratch, "report_v1")])
    check(r.returncode == 2 and "mgsweep migrate" in r.stderr, "python -m mgsweep.report too")
    need(run([args.mgsweep, "migrate", v1]), "mgsweep migrate")
    new = mgsweep.open_store(v1)
    check(np.allclose(new["interventions"].precision.values, prec2, equal_nan=True, rtol=1e-9,
                      atol=1e-12) and "ideal_precision" in new["interventions"],
          "after mgsweep migrate: read, with the paper's precision and ideal_precision")
    check("checksum" in new["interventions"] and "checksum" in new["baseline"],
          "the migrated store (schema 3) exposes its checksums")
    new.close()
    # Schema 2: the values of schema 3, without checksums or fingerprints: read as it is.
    v2 = os.path.join(args.scratch, "schema2.h5")
    copy_store(blocks, v2)
    with h5py.File(v2, "r+", locking=False) as f:
        f.attrs["schema"] = "mgsweep.store/2"
        for name in ("baseline/checksum", "baseline/self_similarity_checksum", "lens/checksum",
                     "interventions/checksum", "means/checksum"):
            if name in f:
                del f[name]
        for a in ("model_fingerprint", "classifier_fingerprint"):
            if a in f.attrs:
                del f.attrs[a]
    two = mgsweep.open_store(v2)
    check(two.attrs["schema_version"] == 2 and "checksum" not in two["interventions"] and
          np.array_equal(two["interventions"].precision.values, prec2, equal_nan=True),
          "schema 2 is read as it is (no checksums)")
    two.close()
    v4 = os.path.join(args.scratch, "schema4.h5")
    copy_store(blocks, v4)
    with h5py.File(v4, "r+", locking=False) as f:
        f.attrs["schema"] = "mgsweep.store/4"
    try:
        mgsweep.open_store(v4)
        check(False, "schema 4 is refused")
    except mgsweep.StoreSchemaError as e:
        check("newer" in str(e), f"a newer schema is refused: {str(e)[:90]}...")
    return True
