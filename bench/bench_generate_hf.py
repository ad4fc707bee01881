"""transformers' MusicgenForConditionalGeneration.generate() on the same checkpoint as
bench_generate, same prompts, frames, batch sizes, sampling (top-k 250, CFG 3.0).

    .venv/bin/python bench/bench_generate_hf.py --model DIR [--seconds 4] [--batches 1,16]
"""
import argparse
import sys
import time

import torch

# The venv's torchaudio may be built for another CUDA than torch and raise at import;
# transformers only needs it for audio loading, so hide a broken one.
try:
    import torchaudio  # noqa: F401
except Exception:  # pragma: no cover - depends on the venv
    for _k in [k for k in sys.modules if k == "torchaudio" or k.startswith("torchaudio.")]:
        del sys.modules[_k]
    sys.modules["torchaudio"] = None
from transformers import MusicgenForConditionalGeneration
from transformers import PreTrainedTokenizerFast


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--batches", default="1,16")
    args = ap.parse_args()
    torch.manual_seed(0)
    model = MusicgenForConditionalGeneration.from_pretrained(args.model).eval()
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{args.model}/tokenizer.json", pad_token="<pad>")
    frames = int(args.seconds * 50)
    k = model.config.decoder.num_codebooks
    print(f"transformers: {torch.get_num_threads()} threads")
    for batch in [int(b) for b in args.batches.split(",")]:
        prompts = [f"Compose a happy rock piece, with a guitar melody. Use a fast tempo. {b}"
                   for b in range(batch)]
        enc = tok(prompts, return_tensors="pt", padding=True)
        kw = dict(do_sample=True, top_k=250, guidance_scale=3.0)
        with torch.inference_mode():
            model.generate(**enc, max_new_tokens=4 + k - 1, **kw)  # warm-up
            t0 = time.perf_counter()
            model.generate(**enc, max_new_tokens=frames + k - 1, **kw)
            dt = time.perf_counter() - t0
        print(f"transformers batch {batch:3d}: {frames / dt:6.1f} frames/s ({dt:.2f} s for {frames} frames)")


if __name__ == "__main__":
    main()
