"""transformers' MusicgenForConditionalGeneration.generate() on the same checkpoint as
bench_generate, same prompts, frames, batch sizes, sampling (top-k 250, CFG 3.0).

    .venv/bin/python bench/bench_generate_hf.py --model DIR [--seconds 4] [--batches 1,16]
                     [--device cpu|cuda|cuda:N] [--dtype float32|float16|bfloat16]
                     [--attn default|sdpa|eager]

--device/--dtype move the loaded model (as bench_generate's flags do); the defaults, cpu and
float32, are what this script always ran. --attn picks transformers' attention: its default
(sdpa, the fused kernel, where torch has it), or eager (matmul, softmax, matmul) to show what
the fused attention adds. On CUDA every timing ends with torch.cuda.synchronize(). The timed
generate() includes transformers' EnCodec decoding of the codes, as on the CPU.
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
from transformers import __version__ as transformers_version


# bench_generate's dtype names, and the short ones.
DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16,
          "fp16": torch.float16, "half": torch.float16, "bfloat16": torch.bfloat16,
          "bf16": torch.bfloat16}


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda or cuda:N")
    ap.add_argument("--dtype", default="float32", choices=sorted(DTYPES))
    ap.add_argument("--attn", default="default", choices=["default", "sdpa", "eager"],
                    help="transformers' attention implementation (default: its own choice)")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit(f"bench_generate_hf.py: --device {args.device}, but this torch "
                 f"({torch.__version__}) sees no CUDA device")
    dtype = DTYPES[args.dtype]
    torch.manual_seed(0)
    kwargs = {} if args.attn == "default" else {"attn_implementation": args.attn}
    model = MusicgenForConditionalGeneration.from_pretrained(args.model, **kwargs).eval()
    if device.type != "cpu" or dtype != torch.float32:
        model = model.to(device=device, dtype=dtype)
    tok = PreTrainedTokenizerFast(tokenizer_file=f"{args.model}/tokenizer.json", pad_token="<pad>")
    frames = int(args.seconds * 50)
    k = model.config.decoder.num_codebooks
    if device.type == "cpu" and dtype == torch.float32 and args.attn == "default":
        print(f"transformers: {torch.get_num_threads()} threads")
    else:
        where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        attn = getattr(model.config.decoder, "_attn_implementation", None) or args.attn
        print(f"transformers {transformers_version}, torch {torch.__version__}: {where}, "
              f"{args.dtype}, attention {attn}, {torch.get_num_threads()} CPU threads")
    for batch in [int(b) for b in args.batches.split(",")]:
        prompts = [f"Compose a happy rock piece, with a guitar melody. Use a fast tempo. {b}"
                   for b in range(batch)]
        enc = tok(prompts, return_tensors="pt", padding=True).to(device)
        kw = dict(do_sample=True, top_k=250, guidance_scale=3.0)
        with torch.inference_mode():
            model.generate(**enc, max_new_tokens=4 + k - 1, **kw)  # warm-up
            sync(device)
            t0 = time.perf_counter()
            model.generate(**enc, max_new_tokens=frames + k - 1, **kw)
            sync(device)
            dt = time.perf_counter() - t0
        print(f"transformers batch {batch:3d}: {frames / dt:6.1f} frames/s ({dt:.2f} s for {frames} frames)")


if __name__ == "__main__":
    main()
