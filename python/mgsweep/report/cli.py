"""python -m mgsweep.report STORE [STORE ...] --out DIR [--audio DIR ...]

What `mgsweep report` runs after decoding the audio (src/cli/report.cpp); usable alone for a
report without audio. Writes DIR/index.html, DIR/figures/*.{png,svg}, DIR/tables/*.csv.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import warnings

import numpy as np
import pandas as pd

from .. import labels
from ..schema import StoreSchemaError
from ..store import open_store, progress
from . import figures, page, tables
from .figures import Figure

METHOD = (
    "Each mean is over prompts: the per-prompt value of prompt p is the mean of every finite "
    "cell of p that the row covers (pairs; pairs and targets; for DecoderLens only the "
    "concept's prompt), and the row's mean is the mean of the per-prompt values. The 95% CI "
    "is the 2.5th and 97.5th percentiles of the means of B bootstrap resamples of the prompt "
    "indices (prompt p of every concept together; the draws are "
    "numpy.random.default_rng([seed, crc32(table), crc32(store)]).integers(0, P, (B, P)), "
    "the same for every row of a table of a store). n is the number of prompts with a value. "
    "Intervention figures use the targets of the whole generation (window all) unless they "
    "are about windows; effect is eq. 1 of the paper, precision is -KL(after || before) and "
    "ideal precision the same if only the two concepts' probabilities flipped. Layer "
    "self-similarity is stored as a mean over prompts only, so it has no CI.")


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", s).strip("_") or "store"


def partial_note(ctx) -> str | None:
    if ctx.complete:
        return None
    pr = progress(ctx.tree)
    parts = ", ".join(f"{s} {d}/{n}" for s, (d, n) in pr.items())
    return (f"PARTIAL STORE {ctx.label}: {100 * ctx.done_fraction():.0f}% of items done "
            f"({parts}); the figures show what is done")


def extremes(ctx) -> pd.DataFrame:
    """Per technique and pair: the done intervention with the largest and the smallest
    effect over every prompt and target (ties: the first in (prompt, target) order)."""
    if "effect" not in ctx.iv:
        return pd.DataFrame()
    eff = ctx.iv["effect"]  # [nT, nQ, P, J]
    rows = []
    for t, tech in enumerate(ctx.techniques):
        for q, (a, b) in enumerate(ctx.pairs):
            x = eff[t, q].ravel()
            ok = np.isfinite(x)
            if not ok.any():
                continue
            for which, flat in (("top", np.nanargmax(np.where(ok, x, np.nan))),
                                ("bottom", np.nanargmin(np.where(ok, x, np.nan)))):
                p, j = divmod(int(flat), eff.shape[3])
                rows.append({"store": ctx.label, "technique": tech,
                             "original": ctx.concepts[a], "desired": ctx.concepts[b],
                             "which": which, "prompt": p,
                             "target": str(ctx.targets.target[j]), "effect": float(x[flat])})
    return pd.DataFrame(rows)


def _csv(df: pd.DataFrame, out: str, name: str) -> str:
    rel = f"tables/{name}.csv"
    os.makedirs(os.path.join(out, "tables"), exist_ok=True)
    df.to_csv(os.path.join(out, rel), index=False, lineterminator="\n")
    return rel


def _load_manifest(d: str | None):
    if not d:
        return None
    path = os.path.join(d, "manifest.json")
    if not os.path.exists(path):
        return {"error": f"{path} is missing (the audio export did not finish)"}
    with open(path, encoding="utf-8") as fh:
        m = json.load(fh)
    m["_dir"] = d
    return m


def build(store_paths, out, audio_dirs=(), seed=0, boot=1000, quiet=False) -> str:
    t_start = time.time()
    os.makedirs(out, exist_ok=True)
    ctxs, used = [], set()
    for path in store_paths:
        tree = open_store(path)
        label = tree.attrs["name"]
        while label in used:
            label = f"{label}_{len(used) + 1}"
        used.add(label)
        ctxs.append(tables.load(tree, label))
    notes = [n for n in (partial_note(c) for c in ctxs) if n]
    pmap = {c.label: partial_note(c) for c in ctxs}
    all_partial = " | ".join(notes) or None

    def cat(frames):
        frames = [f for f in frames if f is not None and not f.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    T = {
        "lens_ndcg": cat(tables.lens_ndcg(c, seed, boot) for c in ctxs),
        "self_similarity": cat(tables.self_similarity(c) for c in ctxs),
        "interventions_by_layer": cat(tables.by_layer(c, seed, boot) for c in ctxs),
        "ideal_precision": cat(tables.ideal_precision(c, seed, boot) for c in ctxs),
        "effect_vs_precision": cat(tables.effect_vs_precision(c, seed, boot) for c in ctxs),
        "parts_by_category": cat(tables.parts_by_category(c, seed, boot) for c in ctxs),
        "heads": cat(tables.heads(c, seed, boot) for c in ctxs),
        "windows": cat(tables.windows(c, seed, boot) for c in ctxs),
        "extremes": cat(extremes(c) for c in ctxs),
    }
    stores_df = tables.stores(ctxs)
    csv = {name: _csv(df, out, name) for name, df in T.items()}
    csv["stores"] = _csv(stores_df, out, "stores")

    sections = []

    def per_store(df):
        for c in ctxs:
            if not df.empty and c.label in set(df.store):
                yield c, df[df.store == c.label]

    figs = []
    for c, d in per_store(T["lens_ndcg"]):
        fid = f"fig2_lens_ndcg_{slug(c.label)}"
        png, svg = figures.save(figures.lens_ndcg(d, c.model, pmap[c.label]), out, fid,
                                pmap[c.label])
        figs.append(Figure(fid, f"DecoderLens recognizability per layer, {c.model} ({c.label})",
                           "NDCG of each concept's relevant labels when the decoder stack is cut "
                           "after layer i (paper Fig. 2); instruments and genres apart.", png, svg,
                           [csv["lens_ndcg"]]))
    sections.append({"id": "lens", "title": "DecoderLens (Fig. 2)", "figures": figs,
                     "tables": [("lens_ndcg", T["lens_ndcg"])] if not T["lens_ndcg"].empty else []})

    figs = []
    for c, d in per_store(T["self_similarity"]):
        fid = f"fig3_self_similarity_{slug(c.label)}"
        png, svg = figures.save(figures.self_similarity(d, c.model, pmap[c.label]), out, fid,
                                pmap[c.label])
        figs.append(Figure(fid, f"Layer self-similarity, {c.model} ({c.label})",
                           "Euclidean distances between the frame-averaged outputs of every two "
                           "layers, mean over the concept's prompts (paper Fig. 3); dark = "
                           "similar. The store keeps only the mean, so there is no CI.", png, svg,
                           [csv["self_similarity"]]))
    sections.append({"id": "selfsim", "title": "Layer self-similarity (Fig. 3)", "figures": figs,
                     "tables": [("self_similarity", T["self_similarity"])]
                     if not T["self_similarity"].empty else []})

    figs = []
    bl, ideal = T["interventions_by_layer"], T["ideal_precision"]
    for c, d in per_store(bl):
        ip = ideal[ideal.store == c.label] if not ideal.empty else None
        for window in dict.fromkeys(d.window):
            for metric, paper in (("effect", "Figs. 4A, 7"), ("precision", "Figs. 4B, 8")):
                if metric not in set(d.metric):
                    continue
                wsuf = "" if window == "all" else f"_steps{slug(window)}"
                fid = f"interventions_{metric}_{slug(c.label)}{wsuf}"
                png, svg = figures.save(
                    figures.by_layer(d, ip, metric, window, c.model, pmap[c.label]), out, fid,
                    pmap[c.label])
                figs.append(Figure(
                    fid, f"Intervention {metric} per layer, {c.model} ({c.label})"
                    + ("" if window == "all" else f", steps {window}"),
                    f"Per component, replace and adjust side by side (paper {paper})"
                    + ("; dotted: the ideal precision (only the two concepts' probabilities "
                       "flip), shaded: its CI" if metric == "precision" else "") + ".", png, svg,
                    [csv["interventions_by_layer"]] +
                    ([csv["ideal_precision"]] if metric == "precision" else [])))
    sections.append({"id": "bylayer", "title": "Interventions per layer (Figs. 4, 7, 8)",
                     "figures": figs,
                     "tables": [(n, T[n]) for n in ("interventions_by_layer", "ideal_precision")
                                if not T[n].empty]})

    figs = []
    if not T["effect_vs_precision"].empty:
        fid = "fig5_effect_vs_precision"
        png, svg = figures.save(figures.effect_vs_precision(T["effect_vs_precision"],
                                                            all_partial), out, fid, all_partial)
        figs.append(Figure(fid, "Intervention effect vs. precision of the MLP",
                           "First (b), intermediate (i: mean over the layers between) and last "
                           "(e) layer, one colour per store (model size), per technique "
                           "(paper Fig. 5).", png, svg, [csv["effect_vs_precision"]]))
    sections.append({"id": "fig5", "title": "Effect vs. precision (Fig. 5)", "figures": figs,
                     "tables": [("effect_vs_precision", T["effect_vs_precision"])]
                     if not T["effect_vs_precision"].empty else []})

    figs = []
    pc = T["parts_by_category"]
    if not pc.empty:
        for tech in dict.fromkeys(pc.technique):
            fig_no = {"replace": "Fig. 6", "adjust": "Fig. 9"}.get(tech, "Figs. 6, 9")
            fid = f"parts_by_category_{slug(tech)}"
            png, svg = figures.save(figures.parts_by_category(pc, tech, all_partial), out, fid,
                                    all_partial)
            figs.append(Figure(fid, f"Combined, original and desired effect by category, "
                                    f"{labels.technique(tech).lower()} on the MLP",
                               f"Mean over MLP layers, the category's pairs and prompts; a panel "
                               f"per store (paper {fig_no}).", png, svg,
                               [csv["parts_by_category"]]))
    sections.append({"id": "parts", "title": "Effect parts by category (Figs. 6, 9)",
                     "figures": figs,
                     "tables": [("parts_by_category", pc)] if not pc.empty else []})

    figs = []
    for c, d in per_store(T["heads"]):
        for tech in dict.fromkeys(d.technique):
            for metric in dict.fromkeys(d.metric):
                fid = f"heads_{slug(c.label)}_{slug(tech)}_{metric}"
                png, svg = figures.save(figures.heads(d, tech, metric, c.model, pmap[c.label]),
                                        out, fid, pmap[c.label])
                figs.append(Figure(fid, f"Head-level {metric}, {tech}, {c.model} ({c.label})",
                                   "Layer x head, mean over pairs and prompts, with the width of "
                                   "each cell's 95% CI beside it.", png, svg, [csv["heads"]]))
    sections.append({"id": "heads", "title": "Attention heads", "figures": figs,
                     "tables": [("heads", T["heads"])] if not T["heads"].empty else []})

    figs = []
    for c, d in per_store(T["windows"]):
        fid = f"windows_{slug(c.label)}"
        png, svg = figures.save(figures.windows(d, c.model, pmap[c.label]), out, fid,
                                pmap[c.label])
        figs.append(Figure(fid, f"Intervention score against step window, {c.model} ({c.label})",
                           "Per component, mean over layers (and heads), pairs and prompts.",
                           png, svg, [csv["windows"]]))
    sections.append({"id": "windows", "title": "Step windows", "figures": figs,
                     "tables": [("windows", T["windows"])] if not T["windows"].empty else []})

    listening = []
    audio_dirs = list(audio_dirs) + [None] * (len(ctxs) - len(audio_dirs))
    ex = T["extremes"]
    for c, d in zip(ctxs, audio_dirs):
        listening.append(page.listening_html(c.label, _load_manifest(d), out))
    sections_with_ex = sections + [{"id": "extremes", "title": "Extreme cases (table)",
                                    "figures": [], "tables": [("extremes", ex)]}]
    index = page.write(out, stores=stores_df, partial_notes=notes, sections=sections_with_ex,
                       listening=listening, method=METHOD, seed=seed, boot=boot)
    for c in ctxs:
        c.tree.close()
    if not quiet:
        print(f"report: {len(ctxs)} store(s) in {time.time() - t_start:.1f} s", file=sys.stderr)
    return index


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="mgsweep report", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stores", nargs="+", metavar="STORE")
    ap.add_argument("--out", required=True, help="report folder (made if missing)")
    ap.add_argument("--audio", action="append", default=[],
                    help="a folder of `mgsweep export-audio` (with manifest.json), one per "
                         "store in order")
    ap.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    ap.add_argument("--bootstrap", type=int, default=1000, help="resamples (default 1000)")
    a = ap.parse_args(argv)
    if a.bootstrap < 1:
        ap.error("--bootstrap must be at least 1")
    if len(a.audio) > len(a.stores):
        ap.error("more --audio folders than stores")
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    try:
        index = build(a.stores, a.out, a.audio, a.seed, a.bootstrap)
    except (StoreSchemaError, FileNotFoundError, OSError) as e:
        print(f"mgsweep report: {e}", file=sys.stderr)
        return 2
    print(f"report: {os.path.abspath(index)}")
    return 0
