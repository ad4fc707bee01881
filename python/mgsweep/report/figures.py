"""The report's figures, drawn from its tables (so a figure shows exactly its CSV), each
written as PNG and SVG. Every mean is drawn with its 95% bootstrap CI (bands, error bars, or
for heatmaps a panel of CI widths beside the means). A figure of a partial store says so in
red in its title and across its plot."""

from __future__ import annotations

import os
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402
import numpy as np  # noqa: E402

from .. import labels  # noqa: E402
from .tables import category_order  # noqa: E402

plt.rcParams.update({
    "svg.hashsalt": "mgsweep",  # stable SVG ids from run to run
    "font.size": 9, "axes.titlesize": 10, "figure.titlesize": 11, "axes.grid": True,
    "grid.alpha": 0.3, "legend.fontsize": 8,
})
COMPONENT_COLORS = {"self_attn": "#1f77b4", "cross_attn": "#ff7f0e", "mlp": "#2ca02c",
                    "out": "#7f7f7f"}
CATEGORY_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
TECH_STYLE = {"replace": "-", "adjust": "--"}
TECH_MARKER = {"replace": "o", "adjust": "s"}
PART_LABELS = {"combined": "Combined", "original": "Original concept", "desired": "Added concept"}


class Figure:
    """A written figure: its files (relative to the report folder) and what the page says."""

    def __init__(self, fid, title, caption, png, svg, tables):
        self.id, self.title, self.caption = fid, title, caption
        self.png, self.svg, self.tables = png, svg, tables


def _partial(fig, partial: str | None):
    if not partial:
        return
    fig.text(0.5, 0.5, "PARTIAL", fontsize=60, color="red", alpha=0.12, ha="center",
             va="center", rotation=30, transform=fig.transFigure, zorder=100)
    fig.text(0.01, 0.995, partial, fontsize=8, color="red", ha="left", va="top",
             transform=fig.transFigure)


def _tidy(fig):
    """Integer ticks on layer/head axes, and a title wrapped to the figure's width."""
    for ax in fig.axes:
        for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
            if label.startswith(("Transformer layer", "Layer", "Head")):
                axis.set_major_locator(MaxNLocator(integer=True))
    st = fig._suptitle
    if st is not None:
        width = int(fig.get_figwidth() * 72 / (0.6 * st.get_fontsize()))
        st.set_text("\n".join(textwrap.wrap(st.get_text(), width)))
    fig.tight_layout()


def save(fig, out: str, fid: str, partial: str | None):
    _tidy(fig)
    _partial(fig, partial)
    os.makedirs(os.path.join(out, "figures"), exist_ok=True)
    png, svg = f"figures/{fid}.png", f"figures/{fid}.svg"
    fig.savefig(os.path.join(out, png), dpi=110, metadata={"Software": None})
    fig.savefig(os.path.join(out, svg), metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return png, svg


def _band(ax, x, d, **kw):
    line, = ax.plot(x, d["mean"], **kw)
    ax.fill_between(x, d["ci_low"], d["ci_high"], color=line.get_color(), alpha=0.2, lw=0)
    return line


def lens_ndcg(df, model: str, partial):
    """Fig. 2: one panel per category (instruments, genres, ...), a line per concept."""
    cats = [c for c in ("instrument", "genre") if c in set(df.category)] + \
        sorted(set(df.category) - {"instrument", "genre"})
    fig, axes = plt.subplots(len(cats), 1, figsize=(7, 2.6 * len(cats)), squeeze=False,
                             sharex=True)
    for i, (ax, cat) in enumerate(zip(axes[:, 0], cats)):
        d = df[df.category == cat]
        for concept in dict.fromkeys(d.concept):
            dc = d[d.concept == concept].sort_values("layer")
            _band(ax, dc.layer.values, dc, label=labels.concept(concept), marker=".")
        ax.set_title(f"{chr(65 + i)}. {cat.capitalize()}s", loc="left")
        ax.set_ylabel("Recognizability (NDCG)")
        ax.legend(ncol=3, loc="best")
    axes[-1, 0].set_xlabel("Transformer layer (DecoderLens cut after layer i)")
    fig.suptitle(f"DecoderLens recognizability, {model} (mean over prompts, 95% CI)")
    fig.tight_layout()
    return fig


def self_similarity(df, model: str, partial):
    """Fig. 3: a Euclidean distance matrix per concept (dark = similar)."""
    concepts = list(dict.fromkeys(df.concept))
    n = len(concepts)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.1 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, c in zip(axes.ravel(), concepts):
        d = df[df.concept == c]
        L = int(d.layer.max()) + 1
        m = np.full((L, L), np.nan)
        m[d.layer.values, d.layer_j.values] = d.distance.values
        im = ax.imshow(m, cmap="magma", origin="upper")
        ax.set_title(labels.concept(c))
        ax.set_xlabel("Layer"), ax.set_ylabel("Layer")
        ax.grid(False)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle(f"Layer self-similarity (Euclidean distance, mean over prompts), {model}")
    fig.tight_layout()
    return fig


def by_layer(df, ideal, metric: str, window: str, model: str, partial):
    """Figs. 4, 7, 8: one panel per technique side by side, a line per component."""
    d = df[(df.metric == metric) & (df.window == window)]
    techs = list(dict.fromkeys(d.technique))
    fig, axes = plt.subplots(1, len(techs), figsize=(5.2 * len(techs), 3.4), squeeze=False,
                             sharey=True)
    for i, (ax, tech) in enumerate(zip(axes[0], techs)):
        dt = d[d.technique == tech]
        for comp in [c for c in labels.COMPONENTS if c in set(dt.component)]:
            dc = dt[dt.component == comp].sort_values("layer")
            _band(ax, dc.layer.values, dc, color=COMPONENT_COLORS.get(comp),
                  ls=TECH_STYLE.get(tech, "-"), marker=".", label=labels.component(comp))
        if metric == "precision" and ideal is not None and not ideal.empty:
            r = ideal.iloc[0]
            ax.axhline(r["mean"], color="k", ls=":", lw=1.2, label="Ideal precision")
            ax.axhspan(r["ci_low"], r["ci_high"], color="k", alpha=0.08, lw=0)
        if metric == "effect":
            ax.axhline(0, color="k", lw=0.6)
        ax.set_title(f"{chr(65 + i)}. {model} {labels.technique(tech).lower()}", loc="left")
        ax.set_xlabel("Transformer layer")
        ax.legend(loc="best")
    axes[0, 0].set_ylabel("Intervention effect (log odds ratio)" if metric == "effect"
                          else "Intervention precision (-KL)")
    w = "" if window == "all" else f", steps {window}"
    fig.suptitle(f"Intervention {metric} per layer{w}, {model} (mean over pairs and prompts, "
                 "95% CI)")
    fig.tight_layout()
    return fig


def effect_vs_precision(df, partial):
    """Fig. 5: MLP, first (b), intermediate (i) and last (e) layers; a colour per store."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for si, store in enumerate(dict.fromkeys(df.store)):
        ds = df[df.store == store]
        color = CATEGORY_COLORS[si % len(CATEGORY_COLORS)]
        model = ds.model.iloc[0]
        for tech in dict.fromkeys(ds.technique):
            e = ds[(ds.technique == tech) & (ds.metric == "effect")].set_index("position")
            p = ds[(ds.technique == tech) & (ds.metric == "precision")].set_index("position")
            pos = [x for x in ("b", "i", "e") if x in e.index and x in p.index]
            if not pos:
                continue
            x, y = p.loc[pos, "mean"].values, e.loc[pos, "mean"].values
            xerr = [x - p.loc[pos, "ci_low"].values, p.loc[pos, "ci_high"].values - x]
            yerr = [y - e.loc[pos, "ci_low"].values, e.loc[pos, "ci_high"].values - y]
            ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt=TECH_MARKER.get(tech, "^") + "-",
                        color=color, mfc="white" if tech == "adjust" else color, capsize=2,
                        lw=0.8, label=f"{model} {labels.technique(tech).lower()}")
            for xi, yi, t in zip(x, y, pos):
                ax.annotate(t, (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("Intervention precision (-KL)")
    ax.set_ylabel("Intervention effect (log odds ratio)")
    ax.legend(loc="best")
    fig.suptitle("Intervention effect vs. precision of the MLP (b = first, i = intermediate, "
                 "e = last layer; 95% CI)", fontsize=9)
    fig.tight_layout()
    return fig


def parts_by_category(df, technique: str, partial):
    """Figs. 6, 9: a panel per store; bars per pair category for each part of the effect."""
    d = df[df.technique == technique]
    stores = list(dict.fromkeys(d.store))
    fig, axes = plt.subplots(1, len(stores), figsize=(4.6 * len(stores), 3.6), squeeze=False,
                             sharey=True)
    for i, (ax, store) in enumerate(zip(axes[0], stores)):
        ds = d[d.store == store]
        cats = category_order(list(ds.pair_category))
        parts = [p for p in PART_LABELS if p in set(ds.part)]
        w = 0.8 / max(1, len(cats))
        for ci, cat in enumerate(cats):
            dc = ds[ds.pair_category == cat].set_index("part").loc[parts]
            x = np.arange(len(parts)) + (ci - (len(cats) - 1) / 2) * w
            m = dc["mean"].values
            ax.bar(x, m, w, color=CATEGORY_COLORS[ci % len(CATEGORY_COLORS)], label=cat,
                   yerr=[m - dc["ci_low"].values, dc["ci_high"].values - m], capsize=2)
        ax.set_xticks(np.arange(len(parts)), [PART_LABELS[p] for p in parts])
        ax.axhline(0, color="k", lw=0.6)
        ax.set_title(f"{chr(65 + i)}. {ds.model.iloc[0]}", loc="left")
        if i == 0:
            ax.set_ylabel("Log(Odds(before) / Odds(after))")
        ax.legend(loc="best")
    fig.suptitle(f"Combined and separated effect of the {technique} intervention on the MLP "
                 "by category (mean over layers, pairs and prompts, 95% CI)", fontsize=9)
    fig.tight_layout()
    return fig


def heads(df, technique: str, metric: str, model: str, partial):
    """Layer x head heatmaps of the mean, a panel of the CI width beside each."""
    d = df[(df.technique == technique) & (df.metric == metric)]
    comps = [c for c in labels.COMPONENTS if c in set(d.component)]
    fig, axes = plt.subplots(len(comps), 2, figsize=(9, 3.2 * len(comps)), squeeze=False)
    for r, comp in enumerate(comps):
        dc = d[d.component == comp]
        L, Hn = int(dc.layer.max()) + 1, int(dc["head"].max()) + 1
        mean, width = np.full((L, Hn), np.nan), np.full((L, Hn), np.nan)
        mean[dc.layer.values, dc["head"].values] = dc["mean"].values
        width[dc.layer.values, dc["head"].values] = (dc.ci_high - dc.ci_low).values
        for c, (m, title, cmap) in enumerate(((mean, "mean", "RdBu_r" if metric == "effect"
                                               else "viridis"), (width, "95% CI width", "Greys"))):
            ax = axes[r, c]
            kw = {}
            if c == 0 and metric == "effect" and np.isfinite(m).any():
                v = np.nanmax(np.abs(m)) or 1.0
                kw = {"vmin": -v, "vmax": v}
            im = ax.imshow(m, cmap=cmap, aspect="auto", origin="lower", **kw)
            ax.grid(False)
            ax.set_xlabel("Head"), ax.set_ylabel("Layer")
            ax.set_title(f"{labels.component(comp)}: {metric} {title}")
            fig.colorbar(im, ax=ax)
    fig.suptitle(f"Head-level {technique} interventions, {model} (mean over pairs and prompts)")
    fig.tight_layout()
    return fig


def windows(df, model: str, partial):
    """Effect and precision against the step window, a line per component."""
    techs = list(dict.fromkeys(df.technique))
    metrics = [m for m in ("effect", "precision") if m in set(df.metric)]
    fig, axes = plt.subplots(len(metrics), len(techs), figsize=(5.2 * len(techs),
                                                                 3.2 * len(metrics)),
                             squeeze=False, sharex=True)
    for r, metric in enumerate(metrics):
        for c, tech in enumerate(techs):
            ax = axes[r, c]
            d = df[(df.technique == tech) & (df.metric == metric)]
            wins = list(dict.fromkeys(d.sort_values(["t0", "t1"]).window))
            for comp in [x for x in labels.COMPONENTS if x in set(d.component)]:
                dc = d[d.component == comp].set_index("window").reindex(wins)
                x = np.arange(len(wins))
                m = dc["mean"].values
                ax.errorbar(x, m, yerr=[m - dc.ci_low.values, dc.ci_high.values - m],
                            color=COMPONENT_COLORS.get(comp), marker="o", capsize=2,
                            label=labels.component(comp))
            ax.set_xticks(np.arange(len(wins)), [("all steps" if w == "all" else w) for w in wins])
            ax.set_title(f"{labels.technique(tech)}: {metric}", loc="left")
            if r == len(metrics) - 1:
                ax.set_xlabel("Step window [t0, t1)")
            ax.legend(loc="best")
    fig.suptitle(f"Intervention score against step window, {model} (mean over layers, pairs "
                 "and prompts, 95% CI)", fontsize=9)
    fig.tight_layout()
    return fig
