#!/usr/bin/env python3
"""`mgsweep make-model` writes checkpoints that the real transformers loads completely.

    check_make_model.py --mgsweep build/src/mgsweep --out DIR [--seed S]

For the shapes `tiny` and `tiny --stereo` (weights seeded from S: new on every run unless --seed
or MGSWEEP_HF_SEED gives it; printed first), this

  1. runs `mgsweep make-model` into DIR/<variant>/;
  2. loads it with MusicgenForConditionalGeneration.from_pretrained(output_loading_info=True) and
     requires missing_keys, unexpected_keys, mismatched_keys and error_msgs all empty (so the
     EnCodec encoder, the codebook buffers and a config with target_bandwidths are there: without
     them transformers builds and randomly initialises what is missing, silently);
  3. requires every tensor transformers holds to be the file's tensor (weight-norm names mapped,
     the tied T5 embedding shared), and one EnCodec quantizer per stored codebook;
  4. runs greedy CFG generation with transformers and with `mgsweep generate --greedy` on the
     same prompts and requires identical codes (the C++ loads the same files). A seed whose
     greedy top-2 gap in transformers falls below 1e-3 is replaced by the next one derived from S,
     so the comparison never hinges on float32 rounding.

Exits 1 on any failure; 77 (skip) only when an oracle package is missing and MGSWEEP_ALLOW_SKIP=1.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_hf_fixtures as hf  # noqa: E402  (imports and checks torch/transformers/tokenizers)
import oracle_deps  # noqa: E402  (on sys.path through make_hf_fixtures)

h5py, = oracle_deps.require("h5py", test="hf_diff_make_model_loads")
torch = hf.torch

VARIANTS = [("tiny", []), ("tiny-stereo", ["--stereo"])]
PROMPTS = [hf.PROMPTS[1], hf.PROMPTS[2]]  # different token lengths: one padded row
FRAMES = 12
ATTEMPTS = 6


def canonical(name):
    """The name transformers 5 gives a tensor of a legacy (weight_g/weight_v) checkpoint."""
    return hf.canonical(name)


def check_loading(d, expect_quantizers):
    model, info = hf.MusicgenForConditionalGeneration.from_pretrained(d, output_loading_info=True)
    problems = []
    for key in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        got = sorted(str(x) for x in info.get(key, []))
        if got:
            problems.append(f"{key} ({len(got)}): {got[:12]}{' ...' if len(got) > 12 else ''}")
    sd = model.state_dict()
    stored = hf.load_file(os.path.join(d, "model.safetensors"))
    seen = set()
    for k, v in stored.items():
        c = canonical(k)
        if c not in sd:
            problems.append(f"{k}: not a tensor of the transformers model")
            continue
        seen.add(c)
        if not torch.equal(sd[c].to(v.dtype), v):
            problems.append(f"{k}: transformers holds other values than the file")
    ptrs = {sd[c].data_ptr() for c in seen}
    # a tied weight (the T5 embedding) shares its storage with one that is in the file
    absent = [k for k in sorted(set(sd) - seen) if sd[k].data_ptr() not in ptrs]
    if absent:
        problems.append(f"{len(absent)} tensors of the transformers model are not in the file: "
                        f"{absent[:12]}{' ...' if len(absent) > 12 else ''}")
    n_q = len(model.audio_encoder.quantizer.layers)
    if n_q != expect_quantizers:
        problems.append(f"transformers built {n_q} EnCodec quantizers for {expect_quantizers} codebooks "
                        "(audio_encoder.target_bandwidths)")
    return model, info, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mgsweep", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    seed = args.seed
    if seed is None and os.environ.get(hf.SEED_ENV, "").strip():
        seed = int(os.environ[hf.SEED_ENV])
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    print(f"make-model check seed {seed}; reproduce with {hf.SEED_ENV}={seed}", flush=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    failed = []
    for variant, flags in VARIANTS:
        t0 = time.time()
        for attempt in range(ATTEMPTS):
            model_seed = hf._seed_int(seed, "make-model", variant, attempt) & 0xFFFFFFFF
            d = os.path.join(args.out, variant)
            shutil.rmtree(d, ignore_errors=True)
            cmd = [args.mgsweep, "make-model", "--shape", "tiny", *flags, "--seed", str(model_seed), "--out", d]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                failed.append(variant)
                print(f"{variant}: {' '.join(cmd)} failed:\n{r.stdout}{r.stderr}", flush=True)
                break
            cfg = hf.MusicgenConfig.from_pretrained(d)
            K, C = cfg.decoder.num_codebooks, cfg.decoder.audio_channels
            model, info, problems = check_loading(d, K // C)
            if problems:
                failed.append(variant)
                print(f"{variant} (make-model --seed {model_seed}): transformers does not load it "
                      "completely:\n  " + "\n  ".join(problems), flush=True)
                break
            # greedy CFG in transformers, float32 like the C++ run
            model.eval()
            tok = hf.Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
            ids, mask = hf.tokenize(tok, PROMPTS)
            shape = dict(decoder=dict(num_codebooks=K, audio_channels=C), frames=FRAMES)
            ref = hf.generate(model, ids, mask, shape)
            if ref["margin"] < hf.MIN_MARGIN:
                print(f"{variant}: seed {model_seed} has a greedy gap of {ref['margin']:.3g} < "
                      f"{hf.MIN_MARGIN}; next seed", flush=True)
                continue
            gen_dir = os.path.join(args.out, variant + ".generate")
            cmd = [args.mgsweep, "generate", "--model", d, "--frames", str(FRAMES), "--greedy",
                   "--guidance", str(hf.GUIDANCE), "--out", gen_dir]
            for p in PROMPTS:
                cmd += ["--prompt", p]
            r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
            if r.returncode != 0:
                failed.append(variant)
                print(f"{variant}: {' '.join(cmd)} failed:\n{r.stdout}{r.stderr}", flush=True)
                break
            with h5py.File(os.path.join(gen_dir, "generation.h5"), "r") as f:
                ours = torch.from_numpy(f["codes"][()])
            if not torch.equal(ours, ref["codes"]):
                failed.append(variant)
                diff = (ours != ref["codes"]).nonzero()[:8].tolist()
                print(f"{variant} (make-model --seed {model_seed}): mgsweep generate and transformers "
                      f"give different greedy codes, first differing [b, k, t]: {diff}", flush=True)
                break
            print(f"{variant}: make-model --seed {model_seed}: transformers loads "
                  f"{len(hf.load_file(os.path.join(d, 'model.safetensors')))} tensors, none missing/unexpected/"
                  f"mismatched, {K // C} quantizers; greedy codes {list(ours.shape)} identical to mgsweep "
                  f"generate (gap {ref['margin']:.3g}) {time.time() - t0:.1f}s", flush=True)
            break
        else:
            failed.append(variant)
            print(f"{variant}: no seed with a greedy gap >= {hf.MIN_MARGIN} in {ATTEMPTS} draws", flush=True)
    if failed:
        print(f"FAILED: {failed} (seed {seed})", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
