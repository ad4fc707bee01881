"""index.html: every figure, every table and the audio players, in one page that opens from
disk (no script, no external resource: images, SVGs, CSVs and WAVs are files beside it)."""

from __future__ import annotations

import html
import math
import os

import pandas as pd

from .. import labels
from ..stats import LEVEL

MAX_ROWS = 200  # rows of a table shown on the page; the CSV has them all

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.partial{background:#fdd;border:2px solid #c00;color:#900;padding:.6em 1em;font-weight:bold}
figure{margin:1em 0 2em}figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.9em;color:#444;margin-top:.3em}
table{border-collapse:collapse;font-size:.8em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}th{background:#f4f4f4}
td.l,th.l{text-align:left}details{margin:.3em 0 1em}audio{height:28px;width:230px}
.note{font-size:.85em;color:#555}.scroll{overflow-x:auto;max-width:100%}code{background:#f4f4f4;padding:0 3px}
"""


def esc(x) -> str:
    return html.escape(str(x), quote=True)


def fmt(v) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "&ndash;"
        return f"{v:.4g}"
    return esc(v)


def table_html(df: pd.DataFrame, max_rows: int = MAX_ROWS) -> str:
    if df is None or df.empty:
        return "<p class=note>(empty)</p>"
    cols = list(df.columns)
    num = {c: pd.api.types.is_numeric_dtype(df[c]) and df[c].dtype != bool for c in cols}
    head = "".join(f"<th class={'' if num[c] else 'l'}>{esc(c)}</th>" for c in cols)
    rows = []
    for rec in df.head(max_rows).itertuples(index=False):
        rows.append("<tr>" + "".join(
            f"<td class={'' if num[c] else 'l'}>{fmt(v)}</td>" for c, v in zip(cols, rec)) +
            "</tr>")
    more = (f"<p class=note>first {max_rows} of {len(df)} rows; all in the CSV</p>"
            if len(df) > max_rows else "")
    return f"<div class=scroll><table><tr>{head}</tr>{''.join(rows)}</table></div>{more}"


def stores_html(df: pd.DataFrame) -> str:
    """The stores side by side, one row per property."""
    t = df.set_index("store").T.reset_index().rename(columns={"index": "property"})
    return table_html(t.astype(str).replace({"<NA>": "\u2013", "nan": "\u2013"}))


def _audio(src: str) -> str:
    return f'<audio controls preload="metadata" src="{esc(src)}"></audio>'


def listening_html(store: str, manifest, out: str) -> str:
    """The extreme cases (top and bottom per technique and pair) and DecoderLens samples."""
    if manifest is None:
        return (f"<p class=note>{esc(store)}: no audio (the report was made without it: "
                "<code>mgsweep report</code> decodes it from the stored codes unless "
                "<code>--no-audio</code>)</p>")
    if manifest.get("error"):
        return f"<p class=note>{esc(store)}: no audio: {esc(manifest['error'])}</p>"
    base = manifest["_dir"]
    files = manifest.get("files", [])
    rel = lambda p: os.path.relpath(os.path.join(base, p), out)  # noqa: E731
    # The manifest's order: technique, pair, then top before bottom by rank (all of
    # `mgsweep report --per-pair N`); extremes.csv holds the first of each.
    ext = [f for f in files if f.get("kind") == "extreme"]
    ext.sort(key=lambda f: (f["pair"], f["which"] != "top", f["rank"]))
    order = list(dict.fromkeys(f["technique"] for f in files if f.get("kind") == "extreme"))
    ext.sort(key=lambda f: order.index(f["technique"]))
    parts = [f"<h3>{esc(store)}: extreme cases</h3>"]
    if ext:
        rows = []
        for f in ext:
            rows.append(
                f"<tr><td class=l>{esc(labels.technique(f['technique']))}</td>"
                f"<td class=l>{esc(labels.concept(f['original']))} &rarr; "
                f"{esc(labels.concept(f['desired']))}</td>"
                f"<td class=l>{esc(f['which'])} {f['rank']}</td><td>{f['prompt']}</td>"
                f"<td class=l>{esc(f['target'])}</td><td>{fmt(float(f['effect']))}</td>"
                f"<td>{_audio(rel(f['file']))}</td><td>{_audio(rel(f['baseline']))}</td></tr>")
        parts.append("<table><tr><th class=l>technique</th><th class=l>pair</th>"
                     "<th class=l>case</th><th>prompt</th><th class=l>target</th><th>effect</th>"
                     "<th>intervened</th><th>baseline (same prompt and noise)</th></tr>" +
                     "".join(rows) + "</table>")
    else:
        parts.append("<p class=note>no intervention is done yet</p>")
    lens = [f for f in files if f.get("kind") == "lens"]
    if lens:
        parts.append(f"<h3>{esc(store)}: DecoderLens samples</h3><table><tr><th class=l>concept"
                     "</th><th>prompt</th><th>layers kept (k)</th><th>audio</th></tr>")
        for f in sorted(lens, key=lambda f: (f["concept_index"], f["prompt"], f["k"])):
            parts.append(f"<tr><td class=l>{esc(labels.concept(f['concept']))}</td>"
                         f"<td>{f['prompt']}</td><td>{f['k']}</td>"
                         f"<td>{_audio(rel(f['file']))}</td></tr>")
        parts.append("</table>")
    return "\n".join(parts)


def write(out: str, *, stores: pd.DataFrame, partial_notes: list[str], sections, listening,
          method: str, seed: int, boot: int) -> str:
    body = ["<h1>mgsweep report</h1>",
            f"<p class=note>{len(stores)} store(s). Means over prompts with {int(LEVEL * 100)}% "
            f"bootstrap confidence intervals ({boot} resamples of the prompts, seed {seed}).</p>"]
    for n in partial_notes:
        body.append(f"<div class=partial>{esc(n)}</div>")
    body.append(stores_html(stores))
    toc = "".join(f'<li><a href="#{esc(s["id"])}">{esc(s["title"])}</a></li>' for s in sections)
    body.append(f"<ul>{toc}<li><a href='#listen'>Listening</a></li>"
                "<li><a href='#method'>How the numbers are made</a></li></ul>")
    for s in sections:
        body.append(f'<h2 id="{esc(s["id"])}">{esc(s["title"])}</h2>')
        if s.get("text"):
            body.append(f"<p>{s['text']}</p>")
        for fig in s["figures"]:
            links = [f'<a href="{esc(fig.png)}">PNG</a>', f'<a href="{esc(fig.svg)}">SVG</a>']
            links += [f'<a href="{esc(t)}">CSV</a>' for t in fig.tables]
            body.append(f'<figure><img src="{esc(fig.png)}" alt="{esc(fig.title)}">'
                        f"<figcaption><b>{esc(fig.title)}</b>. {esc(fig.caption)} "
                        f"({' &middot; '.join(links)})</figcaption></figure>")
        for name, df in s.get("tables", []):
            body.append(f"<details><summary>Table <a href='tables/{esc(name)}.csv'>"
                        f"{esc(name)}.csv</a> ({len(df)} rows)</summary>{table_html(df)}"
                        "</details>")
        if not s["figures"] and not s.get("tables"):
            body.append("<p class=note>nothing in the store(s) for this yet</p>")
    body.append("<h2 id=listen>Listening</h2>")
    body.append("<p class=note>Decoded from the stored codes by <code>mgsweep export-audio"
                "</code>: per technique and pair the intervention with the largest (top) and the "
                "smallest (bottom) effect over every prompt and target, beside the baseline of "
                "the same prompt; and DecoderLens generations of a few cuts per concept.</p>")
    body.extend(listening)
    body.append(f"<h2 id=method>How the numbers are made</h2><p>{method}</p>")
    text = ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            "<title>mgsweep report</title><link rel=icon href='data:,'>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
    path = os.path.join(out, "index.html")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path
