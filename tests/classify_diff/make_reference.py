#!/usr/bin/env python3
"""Reference data for the PaSST differential test (passt_diff_test.cpp).

Exports hear21passt's PaSST with seeded random weights through tools/export_passt.py and
writes audio cases with the logits that the *unexported* hear21passt model gives for them:

  exact      clips of the exported length
  short      shorter clips; the reference zero-pads them at the end (the C++ rule)
  long       a longer clip; the reference keeps its start
  resampled  48 kHz clips; the reference resamples them with torchaudio's kaiser_best
             windowed sinc (the filter mg::Resampler implements) before the model

Files: <out>/passt_random.pt and <out>/reference.json, which names raw little-endian
float32 files <out>/<case>.audio.f32, <case>.logits.f32 (and <case>.resampled.f32).
When hear21passt is not installed it fails with the pip command, or exits 77 (a skip for
CTest) under MGSWEEP_ALLOW_SKIP=1 (tests/oracle_deps.py). Anything else that keeps it from
running (no torch, a hear21passt that is there but does not import, e.g. through torchaudio)
is a failure, opt-out or not: only the absence of the oracle itself may skip this test.
"""

import argparse
import importlib.util
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import oracle_deps  # noqa: E402

TEST = "classify_diff.passt"
if importlib.util.find_spec("torch") is None:
    oracle_deps.missing_packages(TEST, ["torch"], may_skip=False)
if importlib.util.find_spec("hear21passt") is None:
    oracle_deps.missing_packages(TEST, ["hear21passt"])
import torch  # noqa: E402
import export_passt  # noqa: E402

export_passt.import_hear21passt()

# torchaudio.functional.resample arguments matching mg::ResampleOptions' defaults.
KAISER_BEST = dict(lowpass_filter_width=64, rolloff=0.9475937167399596,
                   resampling_method="sinc_interp_kaiser", beta=14.769656459379492)


def test_audio(rows, samples, rate, seed):
    """Noise, a harmonic tone and a chirp: different spectra, all within [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(samples, dtype=torch.float64) / rate
    tone = sum(0.3 / k * torch.sin(2 * math.pi * 220 * k * t) for k in range(1, 6))
    chirp = 0.5 * torch.sin(2 * math.pi * (100 + 2000 * t) * t)
    base = [torch.randn(samples, generator=gen, dtype=torch.float64) * 0.1, tone, chirp]
    return torch.stack([base[i % 3] for i in range(rows)]).float()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    model = export_passt.build_reference_model(pretrained=False, seed=args.seed)
    os.makedirs(args.out, exist_ok=True)
    rate = export_passt.SAMPLE_RATE
    n = int(round(args.seconds * rate))
    model_path = os.path.join(args.out, "passt_random.pt")
    labels = os.path.join(ROOT, "configs", "audioset_labels.csv")
    export_passt.export(model, model_path, n, labels, {"pretrained": False, "seed": args.seed})

    import torchaudio  # importable now: export_passt worked around its CUDA check

    def write(name, tensor):
        path = os.path.join(args.out, name)
        tensor.detach().contiguous().float().numpy().astype("<f4").tofile(path)
        return name

    cases = []
    with torch.no_grad():
        for name, rows, samples, in_rate in [("exact", 3, n, rate),
                                             ("short", 2, n - rate, rate),
                                             ("long", 1, n + rate // 2, rate),
                                             ("resampled", 2, n * 3 // 2, 48000)]:
            audio = test_audio(rows, samples, in_rate, seed=len(cases))
            case = {"name": name, "rate": in_rate, "shape": list(audio.shape),
                    "audio": write(f"{name}.audio.f32", audio)}
            x = audio
            if in_rate != rate:
                x = torchaudio.functional.resample(x, in_rate, rate, **KAISER_BEST)
                case["resampled"] = write(f"{name}.resampled.f32", x)
                case["resampled_shape"] = list(x.shape)
            x = torch.nn.functional.pad(x, (0, max(0, n - x.shape[1])))[:, :n]
            logits = model(x)
            case["logits"] = write(f"{name}.logits.f32", logits)
            case["logits_shape"] = list(logits.shape)
            cases.append(case)
    manifest = {"model": os.path.basename(model_path), "input_samples": n,
                "sample_rate": rate, "cases": cases}
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"wrote {model_path} and {len(cases)} reference cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
