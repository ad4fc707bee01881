#!/usr/bin/env python3
"""Make random-shape MusicGen fixtures with the real Hugging Face transformers library.

    python make_hf_fixtures.py --out DIR --count N [--seed S] [--layout mixed|legacy|v5] [--no-stereo]

For i in 0..N-1 this writes DIR/shape{i}/ holding a randomly initialised, tiny
MusicgenForConditionalGeneration (config.json, generation_config.json, model.safetensors,
tokenizer.json) and expected.safetensors + meta.json: the outputs transformers computes for it,
with the tensor names and layouts of the `*.hf.*` entries of tests/golden/tiny (see README.md
next to this file), and DIR/manifest.json (seed, shapes, coverage). Shape i is a pure function of
(S, i): the same seed gives the same files for every N.

The seed is drawn fresh on every run unless --seed or the environment variable MGSWEEP_HF_SEED
gives one; it is printed first, so that a failure reproduces with MGSWEEP_HF_SEED=S. Whatever the
seed, every block of 4 shapes has a decoder head width and a T5 d_kv that are multiples of 16 (the
AVX-512 decode-attention kernel), a stereo model with at least 3 layers, and interventions
add/replace/scale/zero/adjust (one on a single head, windows that start and end mid-generation),
each of which changes the codes of its batch element (re-drawn from the seed until it does).

Only transformers computes numbers; this script only draws shapes and weights, calls it, hooks
its modules and checks its own results (meta.json "checks").
"""

import argparse
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SEED_ENV = "MGSWEEP_HF_SEED"


def _clean_stale_output(argv):
    """Removes what an earlier run left in --out (shape dirs, manifest) BEFORE anything can fail,
    so that the C++ comparison never finds old fixtures after a run that wrote none."""
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--out")
    a, _ = ap.parse_known_args(argv)
    if a.out and os.path.isdir(a.out):
        for name in os.listdir(a.out):
            path = os.path.join(a.out, name)
            if name == "manifest.json":
                os.remove(path)
            elif name.startswith("shape") and os.path.isdir(path):
                shutil.rmtree(path)


if __name__ == "__main__":
    _clean_stale_output(sys.argv[1:])

# Everything below the cleaning comes from the hf_fixtures package next to this file (its
# __init__ lists what each module holds); the names stay importable from here
# (check_make_model.py uses them as make_hf_fixtures.X).
from hf_fixtures.common import (  # noqa: E402, F401
    DRIFT_MARGIN_FACTOR,
    FRAME_RATE,
    GOLDEN_TOKENIZER,
    GUIDANCE,
    MAX_ATTEMPTS,
    MIN_MARGIN,
    PROMPTS,
    EncodecConfig,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    T5Config,
    Tokenizer,
    load_file,
    oracle_deps,
    save_file,
    torch,
    transformers,
)
from hf_fixtures.fixture import make_shape  # noqa: E402, F401
from hf_fixtures.golden import check_golden  # noqa: E402, F401
from hf_fixtures.interventions import (  # noqa: E402, F401
    INTERVENTIONS,
    INTV_ATTEMPTS,
    SITE_ACTS,
    SITE_MODULE,
    draw_intervention,
    intervention_changes,
    intervention_hooks,
    intervention_meta,
)
from hf_fixtures.reference import Checks, run_all  # noqa: E402, F401
from hf_fixtures.runner import Hooks, _t, generate, maxabs, teacher_forced, tokenize  # noqa: E402, F401
from hf_fixtures.shapes import _rng, _seed_int, build_config, delays, draw_shape  # noqa: E402, F401
from hf_fixtures.weights import (  # noqa: E402, F401
    POS_KEY,
    WN_LEGACY,
    WN_V5,
    canonical,
    init_weights,
    rewrite_legacy,
)


# ----------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out")
    ap.add_argument("--check-golden", metavar="GOLDEN_DIR",
                    help="instead: recompute the *.hf.* entries of a transformers-4.43.4 golden fixture "
                         "(e.g. tests/golden/tiny) with the installed transformers and compare")
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--seed", type=int, default=None,
                    help=f"seed of the shapes and weights (default: ${SEED_ENV}, else drawn fresh)")
    ap.add_argument("--first", type=int, default=0, help="index of the first shape (default 0)")
    ap.add_argument("--layout", choices=["mixed", "legacy", "v5"], default="mixed",
                    help="checkpoint layout: legacy = weight_g/weight_v + embed_positions.weights stored "
                         "(published checkpoints, transformers 4.x); v5 = save_pretrained of transformers 5 "
                         "as is; mixed (default) = legacy for even shapes, v5 for odd ones")
    ap.add_argument("--no-stereo", action="store_true", help="make every shape mono")
    args = ap.parse_args(argv)

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.set_default_dtype(torch.float32)
    if args.check_golden:
        return check_golden(args.check_golden)
    if not args.out:
        ap.error("--out is required")
    if args.count < 1:
        ap.error("--count must be at least 1")
    seed, origin = args.seed, "--seed"
    if seed is None and os.environ.get(SEED_ENV, "").strip():
        seed, origin = int(os.environ[SEED_ENV]), SEED_ENV
    if seed is None:
        seed, origin = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF, "drawn"
    print(f"hf_diff seed {seed} ({origin}); reproduce with {SEED_ENV}={seed} "
          f"ctest --test-dir build -R hf_diff, or --seed {seed}", flush=True)
    tok = Tokenizer.from_file(GOLDEN_TOKENIZER)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    summary = []
    metas = []
    for i in range(args.first, args.first + args.count):
        t1 = time.time()
        m = make_shape(args.out, seed, i, args.layout, not args.no_stereo, tok)
        metas.append(m)
        bad = m["failed_checks"]
        s = m["shape"]
        line = (f"shape{i}: L={s['decoder']['num_hidden_layers']} H={s['decoder']['hidden_size']}"
                f"/{s['decoder']['num_attention_heads']}h K={s['decoder']['num_codebooks']}"
                f"{' stereo' if s['decoder']['audio_channels'] == 2 else ''} V={s['decoder']['vocab_size']}"
                f" t5={s['text_encoder']['feed_forward_proj']} d={s['text_encoder']['d_model']}"
                f" inner={s['text_encoder']['num_heads'] * s['text_encoder']['d_kv']}"
                f" layout={s['checkpoint_layout']} margin={m['min_greedy_margin']:.4g}"
                f" attempts={len(m['weight_attempts'])} {time.time() - t1:.1f}s")
        print(line, flush=True)
        if bad:
            print(f"  FAILED checks: {bad}", flush=True)
        if m["warnings"]:
            print(f"  warnings: {m['warnings']}", flush=True)
        for p in m["interventions"]:
            window = "all steps" if p["t1"] is None else f"steps [{p['t0']}, {p['t1']})"
            print(f"  intv.{p['name']}: {p['site']} {p['op']} element {p['row']}"
                  f"{' both halves' if p['both_halves'] else ''} {window}, {p['attempts']} draw(s)",
                  flush=True)
        summary.append(bad)
    cov = coverage(metas)
    print(f"coverage: {cov}", flush=True)
    # a block of 4 shapes guarantees all of it by construction; a shorter run may lack some
    lacking = [k for k, v in cov.items() if not v] if args.count >= 4 and not args.no_stereo else []
    if lacking:
        print(f"FAILED: the shapes drawn lack {lacking}", flush=True)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(dict(seed=seed, seed_origin=origin, shapes=[f"shape{m['index']}" for m in metas],
                       coverage=cov, failed=any(summary) or bool(lacking)), f, indent=1)
    print(f"total {time.time() - t0:.1f}s (seed {seed})", flush=True)
    return 1 if any(summary) or lacking else 0


def coverage(metas):
    """What the issue asks every run to contain (tests/model/hf_diff_test.cpp checks it too)."""
    def dec(m):
        return m["shape"]["decoder"]

    ops = {p["op"] for m in metas for p in m["interventions"]}
    steps = {m["index"]: m["max_new_tokens"] for m in metas}
    return {
        "head_dim multiple of 16 (AVX-512 decode attention)": any(
            (dec(m)["hidden_size"] // dec(m)["num_attention_heads"]) % 16 == 0 for m in metas),
        "T5 d_kv multiple of 16": any(m["shape"]["text_encoder"]["d_kv"] % 16 == 0 for m in metas),
        "stereo with >= 3 layers": any(
            dec(m)["audio_channels"] == 2 and dec(m)["num_hidden_layers"] >= 3 for m in metas),
        "ops add/replace/scale/zero/adjust": ops >= {"add", "replace", "scale", "zero", "adjust"},
        "adjust with desired != original": any(
            p["op"] == "adjust" and p["max_abs_desired_minus_original"] > 0
            for m in metas for p in m["interventions"]),
        "single-head site": any(p["head"] >= 0 for m in metas for p in m["interventions"]),
        "window starting and ending mid-generation": any(
            p["t1"] is not None and 0 < p["t0"] and p["t1"] < steps[m["index"]]
            for m in metas for p in m["interventions"]),
    }


if __name__ == "__main__":
    sys.exit(main())
