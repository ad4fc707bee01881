"""The report's tables: one pandas DataFrame per figure, every mean with its bootstrap CI.

Each row is a mean over prompts of per-prompt values (mgsweep.stats); the per-prompt value of
prompt p is the mean over every finite cell of p that the row covers (cells: (pair, target)
for intervention scores, pairs for ideal precision). Intervention tables use targets of the
whole generation (window "all") unless they are about windows. Rows are sorted, floats are
written at full precision, so the same store gives the same bytes.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd

from .. import labels, stats
from ..store import progress

METRICS = {"effect": "effect", "precision": "precision", "original": "effect_original",
           "desired": "effect_desired"}
PARTS = {"combined": "effect", "original": "effect_original", "desired": "effect_desired"}
STAT_COLS = ["mean", "ci_low", "ci_high", "n"]


@dataclasses.dataclass
class StoreCtx:
    """One store of the report, its arrays loaded once."""
    label: str  # unique in the report
    model: str  # "MusicGen-small", or the job's name and shape
    tree: object
    P: int
    concepts: list
    cats: list
    iv: dict = dataclasses.field(default_factory=dict)  # name -> [nT, nQ, P, J] float64
    targets: pd.DataFrame | None = None  # target, component, layer, head, window, t0, t1
    techniques: list = dataclasses.field(default_factory=list)
    pairs: np.ndarray | None = None  # [nQ, 2]

    @property
    def complete(self) -> bool:
        return bool(self.tree.attrs["complete"])

    def done_fraction(self) -> float:
        pr = progress(self.tree)
        d = sum(a for a, _ in pr.values())
        n = sum(b for _, b in pr.values())
        return d / n if n else 1.0


def load(tree, label: str) -> StoreCtx:
    concepts = [str(c) for c in tree["concept"].values]
    cats = [str(c) for c in tree["category"].values]
    a = tree.attrs
    H, L = a.get("hidden_size"), a.get("num_layers")
    model = labels.MODEL_SIZES.get(H) or (f"{a['name']}" + (f" (width {H})" if H else ""))
    ctx = StoreCtx(label, model, tree, int(tree.sizes["prompt"]), concepts, cats)
    if "interventions" in tree.children:
        iv = tree["interventions"].to_dataset()
        for name in ("effect", "effect_original", "effect_desired", "precision"):
            if name in iv:
                ctx.iv[name] = np.asarray(iv[name].values, dtype=np.float64)
        if "ideal_precision" in iv:
            ctx.iv["ideal_precision"] = np.asarray(iv["ideal_precision"].values, dtype=np.float64)
        ctx.targets = pd.DataFrame({c: iv[c].values for c in
                                    ("target", "component", "layer", "head", "window", "t0", "t1")})
        ctx.techniques = [str(t) for t in iv["technique"].values]
        ctx.pairs = np.stack([[concepts.index(str(o)) for o in iv["original"].values],
                              [concepts.index(str(d)) for d in iv["desired"].values]], axis=1)
    return ctx


def _frame(ctx: StoreCtx, table: str, keys: list[dict], values: np.ndarray, seed: int,
           boot: int) -> pd.DataFrame:
    if not keys:
        return pd.DataFrame()
    idx = stats.draws(seed, table, ctx.label, ctx.P, boot)
    mean, lo, hi, n = stats.mean_ci(np.asarray(values).reshape(len(keys), ctx.P), idx)
    df = pd.DataFrame(keys)
    df.insert(0, "model", ctx.model)
    df.insert(0, "store", ctx.label)
    df["mean"], df["ci_low"], df["ci_high"], df["n"] = mean, lo, hi, n.astype(np.int64)
    return df


def _cell_mean(arr: np.ndarray, pair_sel, target_sel) -> np.ndarray:
    """arr [nQ, P, J] -> [P]: the mean over the finite (pair, target) cells of each prompt."""
    x = arr[np.asarray(pair_sel)][:, :, np.asarray(target_sel)]  # [q, P, j]
    x = np.moveaxis(x, 1, 0).reshape(arr.shape[1], -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, axis=1) if x.shape[1] else np.full(arr.shape[1], np.nan)


def _pair_mean(arr: np.ndarray) -> np.ndarray:
    """arr [nQ, P, J] -> [P, J]: the mean over the finite pairs."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(arr, axis=0)


def lens_ndcg(ctx: StoreCtx, seed: int, boot: int) -> pd.DataFrame:
    """Fig. 2: DecoderLens NDCG per concept and cut."""
    if "lens" not in ctx.tree.children:
        return pd.DataFrame()
    lens = ctx.tree["lens"]
    nd = np.asarray(lens["ndcg"].values, dtype=np.float64)  # [C, P, nK]
    keys, vals = [], []
    for c, name in enumerate(ctx.concepts):
        for i, (layer, k) in enumerate(zip(lens["layer"].values, lens["k"].values)):
            keys.append({"concept": name, "concept_label": labels.concept(name),
                         "category": ctx.cats[c], "layer": int(layer), "k": int(k)})
            vals.append(nd[c, :, i])
    return _frame(ctx, "lens_ndcg", keys, np.array(vals), seed, boot)


def self_similarity(ctx: StoreCtx) -> pd.DataFrame:
    """Fig. 3: the store keeps only the mean over prompts, so there is no CI to give."""
    if "baseline" not in ctx.tree.children or "self_similarity" not in ctx.tree["baseline"]:
        return pd.DataFrame()
    ss = np.asarray(ctx.tree["baseline"]["self_similarity"].values, dtype=np.float64)
    C, L, _ = ss.shape
    c, i, j = np.meshgrid(np.arange(C), np.arange(L), np.arange(L), indexing="ij")
    return pd.DataFrame({"store": ctx.label, "model": ctx.model,
                         "concept": np.array(ctx.concepts)[c.ravel()],
                         "concept_label": [labels.concept(ctx.concepts[x]) for x in c.ravel()],
                         "layer": i.ravel(), "layer_j": j.ravel(), "distance": ss.ravel()})


def _block_targets(ctx: StoreCtx) -> pd.DataFrame:
    t = ctx.targets
    return t[t["head"] < 0] if t is not None else pd.DataFrame()


def by_layer(ctx: StoreCtx, seed: int, boot: int) -> pd.DataFrame:
    """Figs. 4, 7, 8: every score per technique, component, layer (and window) of block
    targets; the per-prompt value is the mean over pairs."""
    bt = _block_targets(ctx)
    if bt.empty:
        return pd.DataFrame()
    keys, vals = [], []
    for t, tech in enumerate(ctx.techniques):
        for metric, var in METRICS.items():
            if var not in ctx.iv:
                continue
            per = _pair_mean(ctx.iv[var][t])  # [P, J]
            for j, row in bt.iterrows():
                keys.append({"technique": tech, "component": row.component,
                             "component_label": labels.component(row.component),
                             "layer": int(row.layer), "window": row.window, "metric": metric})
                vals.append(per[:, j])
    df = _frame(ctx, "interventions_by_layer", keys, np.array(vals), seed, boot)
    return df.sort_values(["technique", "metric", "window", "component", "layer"],
                          kind="stable").reset_index(drop=True)


def ideal_precision(ctx: StoreCtx, seed: int, boot: int) -> pd.DataFrame:
    """Fig. 4B's reference: the precision if only the two concepts' probabilities flipped;
    the per-prompt value is the mean over pairs."""
    if "ideal_precision" not in ctx.iv:
        return pd.DataFrame()
    ip = ctx.iv["ideal_precision"]  # [nQ, P]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        v = np.nanmean(ip, axis=0)
    return _frame(ctx, "ideal_precision", [{"metric": "ideal_precision"}], v[None, :], seed, boot)


def positions(layers: list[int]) -> dict[str, list[int]]:
    """Fig. 5's b/i/e: the first layer, the ones between, the last."""
    ls = sorted(set(layers))
    if not ls:
        return {}
    out = {"b": [ls[0]]}
    if len(ls) > 2:
        out["i"] = ls[1:-1]
    if len(ls) > 1:
        out["e"] = [ls[-1]]
    return out


def effect_vs_precision(ctx: StoreCtx, seed: int, boot: int) -> pd.DataFrame:
    """Fig. 5: MLP targets of the whole generation at the first, intermediate and last
    layers; the per-prompt value is the mean over pairs and the position's layers."""
    bt = _block_targets(ctx)
    if bt.empty:
        return pd.DataFrame()
    mlp = bt[(bt.component == "mlp") & (bt.window == "all")]
    nQ = ctx.pairs.shape[0]
    keys, vals = [], []
    for t, tech in enumerate(ctx.techniques):
        for pos, ls in positions(list(mlp.layer)).items():
            sel = list(mlp.index[mlp.layer.isin(ls)])
            for metric in ("effect", "precision"):
                if metric not in ctx.iv:
                    continue
                keys.append({"technique": tech, "position": pos,
                             "layers": " ".join(str(x) for x in ls), "metric": metric})
                vals.append(_cell_mean(ctx.iv[metric][t], np.arange(nQ), sel))
    return _frame(ctx, "effect_vs_precision", keys, np.array(vals), seed, boot)


CATEGORY_ORDER = ["Inter: Instrument-Instrument", "Inter: Genre-Genre",
                  "Cross: Instrument-Genre", "Cross: Genre-Instrument"]


def category_order(cats: list[str]) -> list[str]:
    rest = sorted(c for c in set(cats) if c not in CATEGORY_ORDER)
    return [c for c in CATEGORY_ORDER if c in cats] + rest


def parts_by_category(ctx: StoreCtx, seed: int, boot: int) -> pd.DataFrame:
    """Figs. 6, 9: combined, original and desired parts of the effect of MLP targets (whole
    generation) by pair category; the per-prompt value is the mean over the category's pairs
    and every MLP layer."""
    bt = _block_targets(ctx)
    if bt.empty:
        return pd.DataFrame()
    sel = list(bt.index[(bt.component == "mlp") & (bt.window == "all")])
    if not sel:
        return pd.DataFrame()
    pc = [labels.pair_category(ctx.cats[a], ctx.cats[b]) for a, b in ctx.pairs]
    keys, vals = [], []
    for t, tech in enumerate(ctx.techniques):
        for cat in category_order(pc):
            qs = [q for q, c in enumerate(pc) if c == cat]
            for part, var in PARTS.items():
                if var not in ctx.iv:
                    continue
                keys.append({"technique": tech, "pair_category": cat, "part": part})
                vals.append(_cell_mean(ctx.iv[var][t], qs, sel))
    return _frame(ctx, "parts_by_category", keys, np.array(vals), seed, boot)


def heads(ctx: StoreCtx, seed: int, boot: int) -> pd.DataFrame:
    """Head-level targets (whole generation): effect and precision per technique, component,
    layer and head; the per-prompt value is the mean over pairs."""
    t = ctx.targets
    if t is None:
        return pd.DataFrame()
    ht = t[(t["head"] >= 0) & (t.window == "all")]
    if ht.empty:
        return pd.DataFrame()
    keys, vals = [], []
    for ti, tech in enumerate(ctx.techniques):
        for metric in ("effect", "precision"):
            if metric not in ctx.iv:
                continue
            per = _pair_mean(ctx.iv[metric][ti][:, :, ht.index.values])  # [P, j]
            for col, (_, row) in enumerate(ht.iterrows()):
                keys.append({"technique": tech, "component": row.component,
                             "component_label": labels.component(row.component),
                             "layer": int(row.layer), "head": int(row["head"]), "metric": metric})
                vals.append(per[:, col])
    df = _frame(ctx, "heads", keys, np.array(vals), seed, boot)
    return df.sort_values(["technique", "metric", "component", "layer", "head"],
                          kind="stable").reset_index(drop=True)


def windows(ctx: StoreCtx, seed: int, boot: int) -> pd.DataFrame:
    """Effect against step window: per technique, component and window, the per-prompt value
    is the mean over pairs and every target (layers, heads) of that component and window.
    Only for stores with a window other than the whole generation."""
    t = ctx.targets
    if t is None or set(t.window) == {"all"}:
        return pd.DataFrame()
    nQ = ctx.pairs.shape[0]
    wins = t.drop_duplicates("window").sort_values(["t0", "t1"])
    keys, vals = [], []
    for ti, tech in enumerate(ctx.techniques):
        for metric in ("effect", "precision"):
            if metric not in ctx.iv:
                continue
            for comp in sorted(set(t.component), key=list(labels.COMPONENTS).index):
                for _, w in wins.iterrows():
                    sel = list(t.index[(t.component == comp) & (t.window == w.window)])
                    if not sel:
                        continue
                    keys.append({"technique": tech, "component": comp,
                                 "component_label": labels.component(comp), "window": w.window,
                                 "t0": int(w.t0), "t1": int(w.t1), "metric": metric})
                    vals.append(_cell_mean(ctx.iv[metric][ti], np.arange(nQ), sel))
    return _frame(ctx, "windows", keys, np.array(vals), seed, boot)


def stores(ctxs: list[StoreCtx]) -> pd.DataFrame:
    rows = []
    for c in ctxs:
        a = c.tree.attrs
        row = {"store": c.label, "model": c.model, "name": a["name"], "path": a["path"],
               "schema": a["schema"], "complete": c.complete, "generation": a["generation"],
               "journal_records": a["journal_records"]}
        for s, (d, n) in progress(c.tree).items():
            row[f"{s}_done"], row[f"{s}_items"] = d, n
        rows.append(row)
    df = pd.DataFrame(rows)
    for c in df.columns:  # counts stay integers where another store lacks the stage
        if c.endswith(("_done", "_items")):
            df[c] = df[c].astype("Int64")
    return df
