#!/usr/bin/env python3
"""Clips per second of the Python PaSST on this machine, for comparison with the C++ bench.

Measures hear21passt's model exactly as the paper's code calls it (PasstBasicWrapper in
logits mode, eager PyTorch) and, with --traced FILE, the TorchScript export in Python, on
batches of 4-second 32 kHz clips (random weights: the speed does not depend on them).

    python bench/bench_passt_python.py [--traced passt_4s.pt] [--batches 1 4 8]
"""

import argparse
import contextlib
import io
import json
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import export_passt  # noqa: E402

RATE = 32000


def clips_per_second(fn, batch, seconds, min_time):
    """(clips per wall-clock second, seconds per batch, clips per process-CPU second)."""
    audio = torch.randn(batch, int(seconds * RATE)) * 0.1
    with torch.inference_mode(), contextlib.redirect_stdout(io.StringIO()):
        fn(audio)  # warm-up (TorchScript profiles its first runs)
        fn(audio)
        runs, start, cpu_start = 0, time.perf_counter(), time.process_time()
        while True:
            fn(audio)
            runs += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time and runs >= 2:
                cpu = time.process_time() - cpu_start
                return runs * batch / elapsed, elapsed / runs, runs * batch / cpu


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--traced", help="also time this tools/export_passt.py file in Python")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--min-time", type=float, default=5.0, help="seconds of timing per point")
    p.add_argument("--json", help="write the results here too")
    args = p.parse_args()

    warnings.simplefilter("ignore")
    models = {"python eager (hear21passt)": export_passt.build_reference_model(pretrained=False)}
    if args.traced:
        models["python torchscript (export)"] = torch.jit.load(args.traced)
    results = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.seconds:g} s clips at {RATE} Hz")
    for name, model in models.items():
        for batch in args.batches:
            cps, per_batch, per_cpu = clips_per_second(model, batch, args.seconds, args.min_time)
            results.append({"model": name, "batch": batch, "clips_per_s": cps,
                            "ms_per_batch": per_batch * 1e3, "clips_per_cpu_s": per_cpu})
            print(f"{name:30s} batch {batch:3d}: {cps:7.3f} clips/s "
                  f"({per_batch * 1e3:8.1f} ms/batch), {per_cpu:6.3f} clips per CPU-second")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
