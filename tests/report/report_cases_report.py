"""The run_report_test.py cases that check the report of the two stores: numbers (every CSV
value recomputed), rerun (byte-identical CSVs) and page (headless Chromium)."""

import json
import os
import re
import shutil
import sys

import numpy as np

from report_common import HERE, check, close, need, num, read_csv, run, the_report, typed
from report_oracle import KEYS, Oracle, expected_ci


def case_numbers(args):
    s, out = the_report(args)
    oracles = {o.name: o for o in (Oracle(p) for p in s)}
    for table, keys in KEYS.items():
        path = os.path.join(out, "tables", f"{table}.csv")
        rows = read_csv(path)
        got = {}
        for r in rows:
            got.setdefault(r["store"], {})[typed(keys, r)] = r
        for name, o in oracles.items():
            want = o.rows(table)
            have = got.get(name, {})
            if not check(set(have) == set(want), f"{table}: {name}: rows ({len(have)} rows, "
                         f"{len(want)} expected)"):
                print("    missing:", sorted(set(want) - set(have))[:5], "extra:",
                      sorted(set(have) - set(want))[:5])
                continue
            bad = []
            for k, v in want.items():
                r = have[k]
                m, lo, hi, n = expected_ci(v, table, name)
                vals = [num(r["mean"]), num(r["ci_low"]), num(r["ci_high"])]
                if not (all(close(a, b) for a, b in zip(vals, (m, lo, hi))) and int(r["n"]) == n):
                    bad.append((k, vals, (m, lo, hi, n)))
            check(not bad and len(want) > 0 or (not want and not have),
                  f"{table}: {name}: {len(want)} means, CIs and n recomputed from the store" +
                  (f"; first difference {bad[0]}" if bad else ""))
        ok = all(num(r["ci_low"]) <= num(r["mean"]) <= num(r["ci_high"]) for r in rows
                 if r["n"] != "0")
        check(ok and rows, f"{table}: every CI contains its mean ({len(rows)} rows)")
    # Self-similarity: the stored matrix itself.
    rows = read_csv(os.path.join(out, "tables", "self_similarity.csv"))
    o = oracles["blocks"]
    ok = len(rows) == o.ss.size and all(
        close(num(r["distance"]), o.ss[o.concepts.index(r["concept"]), int(r["layer"]),
                                       int(r["layer_j"])]) for r in rows)
    check(ok, f"self_similarity.csv equals /baseline/self_similarity ({len(rows)} values)")
    # Extremes: the largest and smallest effect of each technique and pair.
    rows = read_csv(os.path.join(out, "tables", "extremes.csv"))
    ok = True
    for name, o in oracles.items():
        for t, tech in enumerate(o.techniques):
            for q, (a, b) in enumerate(o.pairs):
                x = o.iv["effect"][t, q]
                for which, v in (("top", np.nanmax(x)), ("bottom", np.nanmin(x))):
                    r = [r for r in rows if r["store"] == name and r["technique"] == tech and
                         r["original"] == o.concepts[a] and r["desired"] == o.concepts[b] and
                         r["which"] == which]
                    ok = ok and len(r) == 1 and close(num(r[0]["effect"]), v)
    check(ok, "extremes.csv: the largest and smallest effect per technique and pair")
    # Labels as the paper writes them.
    lens = read_csv(os.path.join(out, "tables", "lens_ndcg.csv"))
    check({r["concept_label"] for r in lens} == {"Guitar", "Piano", "Rock", "EDM"},
          "concept labels as in the paper (EDM for electronic)")
    parts = read_csv(os.path.join(out, "tables", "parts_by_category.csv"))
    check({r["pair_category"] for r in parts} == {
        "Inter: Instrument-Instrument", "Inter: Genre-Genre", "Cross: Instrument-Genre",
        "Cross: Genre-Instrument"}, "the four pair categories of Figs. 6 and 9")
    # Every figure on the page as PNG and SVG.
    html = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    pngs = re.findall(r'<img src="(figures/[^"]+\.png)"', html)
    svgs = re.findall(r'href="(figures/[^"]+\.svg)"', html)
    ids = {os.path.basename(p)[:-4] for p in pngs}
    want = {"fig2_lens_ndcg_blocks", "fig3_self_similarity_blocks",
            "interventions_effect_blocks", "interventions_precision_blocks",
            "interventions_effect_blocks_steps0-6", "fig5_effect_vs_precision",
            "parts_by_category_replace", "parts_by_category_adjust", "heads_heads_adjust_effect",
            "heads_heads_adjust_precision", "windows_blocks"}
    check(want <= ids, f"figures of Figs. 2-9, heads and windows ({sorted(want - ids)} missing)")
    check(len(svgs) == len(pngs) and all(os.path.getsize(os.path.join(out, p)) > 1000
                                         for p in pngs + svgs), f"{len(pngs)} PNG + SVG files")
    check("EDM" in open(os.path.join(out, "figures", "fig2_lens_ndcg_blocks.svg")).read(),
          "the figure's legend says EDM")
    return True


def case_rerun(args):
    s, out = the_report(args)
    again = os.path.join(args.scratch, "report_again")
    shutil.rmtree(again, ignore_errors=True)
    need(run([args.mgsweep, "report", *s, "--out", again, "--no-audio"]), "second report")
    names = sorted(os.listdir(os.path.join(out, "tables")))
    same = [n for n in names if open(os.path.join(out, "tables", n), "rb").read() ==
            open(os.path.join(again, "tables", n), "rb").read()]
    check(len(names) >= 10 and same == names, f"{len(same)}/{len(names)} CSVs byte-identical")
    return True


def case_page(args):
    s, out = the_report(args)
    shot = os.path.join(out, "index.png")
    html = open(os.path.join(out, "index.html"), encoding="utf-8").read()
    n_img = html.count("<img ")
    n_audio = html.count("<audio ")
    manifest = json.load(open(os.path.join(out, "audio", "blocks", "manifest.json")))
    check(n_audio >= len([f for f in manifest["files"] if f["kind"] == "lens"]) + 2 * 4 * 2,
          f"{n_audio} audio players (extremes of 2 techniques x 4 pairs, DecoderLens samples)")
    # The audio behind the players: export-audio --per-pair 1 --lens --manifest.
    ext = read_csv(os.path.join(out, "tables", "extremes.csv"))
    files = {(f["technique"], f["original"], f["desired"], f["which"], f["prompt"], f["target"]):
             f for f in manifest["files"] if f["kind"] == "extreme"}
    ok = all((r["technique"], r["original"], r["desired"], r["which"], int(r["prompt"]),
              r["target"]) in files for r in ext if r["store"] == "blocks")
    check(ok and len(files) == 2 * 4 * 2, f"a WAV for each of the {len(files)} extreme cases")
    check(all(os.path.exists(os.path.join(out, "audio", "blocks", f["file"])) and
              f["baseline"] in {g["file"] for g in manifest["files"]}
              for f in files.values()), "their WAVs and baselines exist")
    lens = sorted((f["concept"], f["k"]) for f in manifest["files"] if f["kind"] == "lens")
    check(lens == sorted((c, k) for c in ("guitar", "piano", "rock", "electronic")
                         for k in (1, 2, 3, 4)), "DecoderLens samples: every concept, 4 cuts")
    r = run([sys.executable, os.path.join(HERE, "check_page.py"), os.path.join(out, "index.html"),
             "--screenshot", shot, "--min-images", str(n_img), "--min-audio", str(n_audio)])
    print(r.stdout[-4000:], r.stderr[-2000:])
    check(r.returncode == 0, "headless Chromium: images loaded, audio decodes, no console error")
    check(os.path.exists(shot) and os.path.getsize(shot) > 10000, f"screenshot kept: {shot}")
    # The check catches what a person would: a missing image, a WAV that does not decode.
    broken = os.path.join(out, "broken.html")
    with open(broken, "w") as fh:
        fh.write(html.replace('src="figures/', 'src="figures/missing_', 1)
                 .replace('<audio controls preload="metadata" src="', '<audio controls '
                          'preload="metadata" src="tables/', 1))
    r = run([sys.executable, os.path.join(HERE, "check_page.py"), broken, "--screenshot",
             os.path.join(args.scratch, "broken.png")])
    os.remove(broken)
    check(r.returncode == 1 and "FAIL: image not loaded" in r.stdout and
          "FAIL: audio does not decode" in r.stdout, "a broken image and audio are caught")
    r = run([sys.executable, os.path.join(HERE, "check_page.py"), os.path.join(out, "index.html"),
             "--screenshot", shot + ".x.png", "--chromium", "/nonexistent/chromium"])
    check(r.returncode == 1 and "apt-get install -y chromium" in r.stdout,
          "without chromium the page check fails with the install command (no skip)")
    return True
