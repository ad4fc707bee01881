"""An independent oracle of `mgsweep report`'s numbers, from h5py and numpy only: the per-prompt
values of every table as the report's docs define them, and the documented bootstrap CI."""

import re
import tomllib
import zlib

import h5py
import numpy as np

from report_common import BOOT, SEED


# ---- an independent oracle of the report's numbers, from h5py and numpy only ----------------

def strings(ds):
    return [s.decode() if isinstance(s, bytes) else s for s in ds[()]]


def masked(f, name, done):
    x = f[name][()].astype(np.float64)
    d = done.reshape(done.shape + (1,) * (x.ndim - done.ndim))
    return np.where(np.broadcast_to(d, x.shape) != 0, x, np.nan)


def nanmean(x, axis):
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.nanmean(x, axis=axis)


def expected_ci(v, table, store):
    """The documented bootstrap (python/mgsweep/stats.py) written again from its text."""
    P = v.shape[0]
    rng = np.random.default_rng([SEED, zlib.crc32(table.encode()), zlib.crc32(store.encode())])
    idx = rng.integers(0, P, size=(BOOT, P))
    fin = np.isfinite(v)
    if not fin.any():
        return np.nan, np.nan, np.nan, 0
    m = v[fin].mean()
    boot = nanmean(v[idx], 1)
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    return m, min(lo, m), max(hi, m), int(fin.sum())


def parse_target(name):
    site, _, win = name.partition("@")
    m = re.match(r"layers\.(\d+)\.(\w+?)(?:\.head\.(\d+))?$", site)
    window = "all"
    if win:
        a, b = win.split("-")
        window = f"{a}-{'end' if int(b) == 2**63 - 1 else b}"
    return int(m.group(1)), m.group(2), int(m.group(3)) if m.group(3) else -1, window


class Oracle:
    def __init__(self, path):
        f = h5py.File(path, "r", locking=False)
        self.spec = tomllib.loads(f.attrs["spec_toml"])
        self.name = self.spec["name"]
        self.concepts = strings(f["concepts"])
        slot = {"INSTRUMENTS": "instrument", "GENRE": "genre"}
        self.cat = [slot[self.spec["concept"][c]["slot"]] for c in self.concepts]
        bdone = f["baseline/done"][()]
        self.P = bdone.shape[1]
        self.ss = f["baseline/self_similarity"][()] if "baseline/self_similarity" in f else None
        self.lens = None
        if "lens/ndcg" in f:
            self.lens = masked(f, "lens/ndcg", f["lens/done"][()])
            self.ks = f["lens/k"][()]
        idone = f["interventions/done"][()]
        self.iv = {m: masked(f, f"interventions/{m}", idone)
                   for m in ("effect", "effect_original", "effect_desired", "precision")}
        self.pairs = f["interventions/pairs"][()]
        self.ideal = masked(f, "interventions/ideal_precision", bdone[self.pairs[:, 0]])
        self.techniques = strings(f["interventions/techniques"])
        self.targets = [(n,) + parse_target(n) for n in strings(f["interventions/targets"])]
        f.close()

    def cells(self, t, metric, qs, js):
        x = self.iv[metric][t][np.ix_(qs, range(self.P), js)]  # [q, P, j]
        return nanmean(np.moveaxis(x, 1, 0).reshape(self.P, -1), 1)

    def pcat(self, q):
        a, b = self.pairs[q]
        ca, cb = self.cat[a], self.cat[b]
        return f"{'Inter' if ca == cb else 'Cross'}: {ca.capitalize()}-{cb.capitalize()}"

    def rows(self, table):
        """{key: per-prompt values} of one table, as the report's docs define it."""
        Q, out = list(range(len(self.pairs))), {}
        tg = self.targets
        if table == "lens_ndcg" and self.lens is not None:
            for c, name in enumerate(self.concepts):
                for i, k in enumerate(self.ks):
                    out[(name, int(k) - 1)] = self.lens[c, :, i]
        elif table == "interventions_by_layer":
            names = {"effect": "effect", "precision": "precision", "original": "effect_original",
                     "desired": "effect_desired"}
            for t, tech in enumerate(self.techniques):
                for short, m in names.items():
                    for j, (_, layer, comp, head, win) in enumerate(tg):
                        if head < 0:
                            out[(tech, comp, layer, win, short)] = self.cells(t, m, Q, [j])
        elif table == "ideal_precision":
            out[("ideal_precision",)] = nanmean(self.ideal, 0)
        elif table == "effect_vs_precision":
            mlp = sorted({layer for _, layer, comp, head, win in tg
                          if comp == "mlp" and head < 0 and win == "all"})
            pos = {"b": mlp[:1], "i": mlp[1:-1], "e": mlp[-1:]} if mlp else {}
            for t, tech in enumerate(self.techniques):
                for p, ls in pos.items():
                    if not ls or (p == "e" and len(mlp) < 2):
                        continue
                    js = [j for j, (_, layer, comp, head, win) in enumerate(tg)
                          if comp == "mlp" and head < 0 and win == "all" and layer in ls]
                    for m in ("effect", "precision"):
                        out[(tech, p, m)] = self.cells(t, m, Q, js)
        elif table == "parts_by_category":
            js = [j for j, (_, _, comp, head, win) in enumerate(tg)
                  if comp == "mlp" and head < 0 and win == "all"]
            if js:
                for t, tech in enumerate(self.techniques):
                    for cat in {self.pcat(q) for q in Q}:
                        qs = [q for q in Q if self.pcat(q) == cat]
                        for part, m in (("combined", "effect"), ("original", "effect_original"),
                                        ("desired", "effect_desired")):
                            out[(tech, cat, part)] = self.cells(t, m, qs, js)
        elif table == "heads":
            for t, tech in enumerate(self.techniques):
                for m in ("effect", "precision"):
                    for j, (_, layer, comp, head, win) in enumerate(tg):
                        if head >= 0 and win == "all":
                            out[(tech, comp, layer, head, m)] = self.cells(t, m, Q, [j])
        elif table == "windows" and {x[4] for x in tg} != {"all"}:
            for t, tech in enumerate(self.techniques):
                for m in ("effect", "precision"):
                    for comp in {x[2] for x in tg}:
                        for win in {x[4] for x in tg}:
                            js = [j for j, x in enumerate(tg) if x[2] == comp and x[4] == win]
                            out[(tech, comp, win, m)] = self.cells(t, m, Q, js)
        return out


KEYS = {
    "lens_ndcg": ["concept", "layer"],
    "interventions_by_layer": ["technique", "component", "layer", "window", "metric"],
    "ideal_precision": ["metric"],
    "effect_vs_precision": ["technique", "position", "metric"],
    "parts_by_category": ["technique", "pair_category", "part"],
    "heads": ["technique", "component", "layer", "head", "metric"],
    "windows": ["technique", "component", "window", "metric"],
}
