#!/usr/bin/env python3
"""A whole sweep item, side by side (issue 10): mgsweep against the paper's Python stack.

One intervention batch of B items -- B targets (the MLP output of layers 0..B-1, `replace` with
the desired concept's per-step mean, conditional CFG row only) on one prompt of the original
concept, as a sweep batches them -- computed twice in one run on the same random checkpoint:

  mgsweep  `mgsweep run` on a small job (guitar -> piano; the baseline stage first, since the
           interventions need its means and baseline logits), MGSWEEP_PROFILE=1 for the seconds
           per part; items/s from the intervention stage's batch seconds (store /meta).
  python   what the paper's code does per item: transformers' MusicGen generate() with
           guidance and forward hooks on fc2 (EnCodec decode inside generate, timed on its
           own), hear21passt's PaSST (eager, the architecture and seed of the TorchScript file
           mgsweep reads) on the mono audio, softmax and the effect (eq. 1) against the baseline.
           The baseline (both prompts, means and logits) is computed first, outside the item.

Then items/s of both, their ratio, each part's share and its distance to its roofline:
max(FLOPs / compute peak, weight bytes / read bandwidth) of that part for the batch. FLOPs:
decoder analytic (bench_generate's count: projections and heads for both CFG rows, attention
over the KV cache and the text); T5, EnCodec decoder and PaSST counted by
torch.utils.flop_counter.FlopCounterMode on the Python models (matmuls and convolutions), plus
EnCodec's LSTM analytically (2 x its weights per frame; FlopCounterMode does not see inside
aten::lstm). PaSST's STFT and element-wise ops are not counted, and activation traffic is not
in the bytes, so those rooflines are lower bounds.

    bench/run_item_bench.sh [--quick]      # makes the model and the PaSST file, then runs this
"""

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import time
import tomllib
import warnings

import h5py
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import export_passt  # noqa: E402  (hear21passt with the torchaudio guard)

sys.path.insert(0, os.path.join(ROOT, "tests"))
import oracle_deps  # noqa: E402  (the torchaudio guard and offline hub of the diff tests)

PARTS = ("t5", "decoder", "encodec", "classifier", "rest")
ORIGINAL, DESIRED = "guitar", "piano"


def hide_broken_torchaudio():
    # hear21passt needs torchaudio's filterbank: export_passt imports it with the CUDA check
    # bypassed. If even that fails, oracle_deps hides torchaudio from transformers (which only
    # needs it to load audio files) and keeps the hub offline, as the differential tests do.
    try:
        export_passt.import_hear21passt()
    except Exception:  # noqa: BLE001 -- then hear21passt fails below with its own message
        pass
    oracle_deps.prepare_transformers_import()


# ------------------------------------------------------------------------------------------
# Yardsticks, as bench/yardsticks.h and bench_generate compute them.


def theoretical_peak(cores):
    """cores x clock x float32 FLOPs per cycle (2 FMA units), as bench/yardsticks.h."""
    mhz, flags = 0.0, ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if not mhz and line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
            if not flags and line.startswith("flags"):
                flags = " " + line.split(":")[1].strip() + " "
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq") as f:
            mhz = float(f.read()) / 1000.0
    except (OSError, ValueError):
        pass
    isa, per_cycle = ("SSE", 8)
    if " avx512f " in flags:
        isa, per_cycle = "AVX-512", 64
    elif " avx2 " in flags and " fma " in flags:
        isa, per_cycle = "AVX2", 32
    return cores * mhz * 1e6 * per_cycle, f"{cores} cores x {mhz / 1e3:.2f} GHz x {per_cycle} ({isa})"


def best_rate(fn, work, rounds=5, min_s=0.3):
    best = 0.0
    for _ in range(rounds):
        t0, n = time.perf_counter(), 0
        while n == 0 or time.perf_counter() - t0 < min_s:
            fn()
            n += 1
        best = max(best, work * n / (time.perf_counter() - t0))
    return best


def yardsticks(threads):
    theo, how = theoretical_peak(threads)
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    gemm = best_rate(lambda: torch.mm(a, b), 2.0 * 2048**3)
    big = torch.ones(128 << 20)  # 512 MB, read once per sum
    bw = best_rate(lambda: big.sum(), big.numel() * 4.0, min_s=0.0)
    del big
    return {"peak": max(theo, gemm), "theoretical": theo, "theoretical_how": how, "gemm": gemm,
            "bandwidth": bw}


# ------------------------------------------------------------------------------------------
# mgsweep


def write_job(path, a):
    layers = list(range(a.batch))
    inc = [os.path.join(ROOT, "configs", f) for f in ("prompt_template.toml", "paper_concepts.toml")]
    text = f"""# bench/bench_item.py: one intervention batch of {a.batch} targets on one prompt.
include = {json.dumps(inc)}
name = "item_bench"
model = {json.dumps(os.path.abspath(a.model))}
store = {json.dumps(os.path.join(os.path.abspath(a.work), "item_bench.h5"))}
concepts = ["{ORIGINAL}", "{DESIRED}"]
batch_size = {a.batch}
checkpoint_seconds = 600

[classifier]
kind = "torchscript"
path = {json.dumps(os.path.abspath(a.passt))}

[generation]
duration = {a.seconds}
top_k = 250
temperature = 1.0
guidance = 3.0
seed = 0
greedy = {"true" if a.greedy else "false"}
dtype = "float32"
device = "cpu"

[prompts]
per_concept = 1

[baseline]
enabled = true
means = "per_step"
self_similarity = false

[lens]
enabled = false

[interventions]
enabled = true
techniques = ["replace"]
pairs = [["{ORIGINAL}", "{DESIRED}"]]
components = ["mlp"]
layers = {json.dumps(layers)}

[extremes]
enabled = false
"""
    with open(path, "w") as f:
        f.write(text)


def run_mgsweep(a):
    job = os.path.join(a.work, "item_bench.toml")
    store = os.path.join(a.work, "item_bench.h5")
    for p in (store, store + ".journal"):
        if os.path.exists(p):
            os.remove(p)  # a fresh run, never a resume
    write_job(job, a)
    env = dict(os.environ, MGSWEEP_PROFILE="1")
    t0 = time.perf_counter()
    proc = subprocess.run([a.mgsweep, "run", job, "--threads", str(a.threads)], env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"mgsweep run failed with status {proc.returncode}")
    prof = {}
    for line in proc.stderr.splitlines():
        if line.startswith("profile: "):
            kv = dict(w.split("=", 1) for w in line[len("profile: "):].split())
            stage = kv.pop("stage")
            prof[stage] = {k: float(v) for k, v in kv.items()}
    if "interventions" not in prof:
        sys.stderr.write(proc.stderr)
        raise SystemExit("mgsweep printed no profile line (is this build older than "
                         "MGSWEEP_PROFILE in src/sweep/executor.cpp?)")
    with h5py.File(store, "r") as f:
        stage_seconds = f["/meta/stage_seconds"][()].tolist()
        stage_items = f["/meta/stage_items"][()].tolist()
        prompts = [p.decode() if isinstance(p, bytes) else p for p in f["/prompts"][()]]
        effect = f["/interventions/effect"][()]
    if not torch.isfinite(torch.from_numpy(effect)).all():
        raise SystemExit("mgsweep: non-finite effects in the store")
    effect_abs = float(abs(effect).mean())
    iv = prof["interventions"]
    parts = {p: iv[p] for p in PARTS}
    return {"wall": wall, "peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "stage_seconds": stage_seconds, "stage_items": stage_items, "profile": prof,
            "items": int(iv["items"]), "seconds": iv["seconds"], "parts": parts,
            "prompts": prompts, "effect_abs": effect_abs, "log": proc.stderr}


# ------------------------------------------------------------------------------------------
# The Python pipeline (the paper's stack)


class PythonPipeline:
    def __init__(self, a):
        hide_broken_torchaudio()
        import transformers
        from transformers import MusicgenForConditionalGeneration, PreTrainedTokenizerFast

        transformers.logging.set_verbosity_error()
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(io.StringIO()):
            self.model = MusicgenForConditionalGeneration.from_pretrained(a.model).eval()
        self.tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(a.model, "tokenizer.json"),
                                           pad_token="<pad>")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.passt = export_passt.build_reference_model(pretrained=False, seed=a.passt_seed)
        self.load_seconds = time.perf_counter() - t0
        self.a = a
        cfg = self.model.config.decoder
        self.K, self.steps = cfg.num_codebooks, int(round(a.seconds * 50)) + cfg.num_codebooks - 1
        self.fc2 = [self.model.decoder.model.decoder.layers[i].fc2 for i in range(a.batch)]
        self.clock = {}
        self.step = -1
        self.last_codes = None
        self._instrument()

    def _instrument(self):
        m = self.model
        # Step counter: transformers 5 runs the first (prefill) step twice and drops the first
        # result; a call with an empty cache is step 0 (tests/oracle/mgoracle.py).
        def on_decoder(mod, args, kwargs):
            cache = kwargs.get("cache", kwargs.get("past_key_values"))
            self.step = 0 if cache is None or cache.get_seq_length() == 0 else self.step + 1

        m.decoder.model.decoder.register_forward_pre_hook(on_decoder, with_kwargs=True)
        m.text_encoder.register_forward_pre_hook(lambda *_: self._start("t5"))
        m.text_encoder.register_forward_hook(lambda *_: self._stop("t5"))
        decode = m.audio_encoder.decode

        def timed_decode(codes, *args, **kw):
            self.last_codes = codes
            self._start("encodec")
            out = decode(codes, *args, **kw)
            self._stop("encodec")
            return out

        m.audio_encoder.decode = timed_decode

    def _start(self, part):
        self.clock[part + "@"] = time.perf_counter()

    def _stop(self, part):
        self.clock[part] = self.clock.get(part, 0.0) + time.perf_counter() - self.clock.pop(part + "@")

    def generate(self, prompts, hooks=()):
        handles = [mod.register_forward_hook(fn) for mod, fn in hooks]
        try:
            enc = self.tok(prompts, return_tensors="pt", padding=True)
            kw = (dict(do_sample=False) if self.a.greedy else
                  dict(do_sample=True, top_k=250, temperature=1.0))
            self._start("generate")
            audio = self.model.generate(**enc, guidance_scale=3.0, max_new_tokens=self.steps, **kw)
            self._stop("generate")
        finally:
            for h in handles:
                h.remove()
        if self.step != self.steps - 1:
            raise SystemExit(f"python: saw {self.step + 1} decoder steps, expected {self.steps}")
        return audio

    def classify(self, audio):
        self._start("classifier")
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logits = self.passt(audio.mean(1))  # mono, the clip as generated
        self._stop("classifier")
        return logits

    def baseline(self, prompt_a, prompt_b):
        """Both concepts' prompts: the desired concept's per-step fc2 means and p (original)."""
        means = {i: [None] * self.steps for i in range(self.a.batch)}

        def capture(i):
            def fn(mod, inp, out):
                means[i][self.step] = out[1, 0].clone()  # row 1: the desired prompt, cond. half
            return fn

        with torch.inference_mode():
            audio = self.generate([prompt_a, prompt_b], [(self.fc2[i], capture(i)) for i in means])
            logits = self.classify(audio)
        self.means = {i: torch.stack(v) for i, v in means.items()}
        self.log_p = torch.log_softmax(logits[0].double(), -1)

    def item_batch(self, prompt_a, label_a, label_b):
        """B intervened generations of prompt_a (row r: replace fc2 of layer r): timed parts."""
        self.clock = {}

        def replace(r):
            def fn(mod, inp, out):
                out[r, 0] = self.means[r][self.step]  # conditional row r only (rows B.. uncond.)
                return out
            return fn

        t0 = time.perf_counter()
        with torch.inference_mode():
            audio = self.generate([prompt_a] * self.a.batch,
                                  [(self.fc2[r], replace(r)) for r in range(self.a.batch)])
            logits = self.classify(audio)
            log_q = torch.log_softmax(logits.double(), -1)
            effect = ((self.log_p[label_a] - self.log_p[label_b])
                      - (log_q[:, label_a] - log_q[:, label_b]))
        total = time.perf_counter() - t0
        if not torch.isfinite(effect).all():
            raise SystemExit("python: non-finite effects")
        c = self.clock
        parts = {"t5": c["t5"], "decoder": c["generate"] - c["t5"] - c["encodec"],
                 "encodec": c["encodec"], "classifier": c["classifier"]}
        parts["rest"] = total - sum(parts.values())
        return {"seconds": total, "parts": parts, "items": self.a.batch,
                "effect_abs": float(effect.abs().mean())}


# ------------------------------------------------------------------------------------------
# FLOPs and rooflines of each part, for one batch of B items


def count_flops(fn, module):
    """FLOPs of fn(): FlopCounterMode's matmuls and convolutions, plus every nn.LSTM in module
    (FlopCounterMode does not see inside aten::lstm): 2 x its weights per row and time step."""
    from torch.utils.flop_counter import FlopCounterMode

    lstm = [0.0]

    def on_lstm(mod, inp, out):
        x = inp[0]
        rows_steps = x.shape[0] * x.shape[1] if x.dim() == 3 else x.shape[0]
        weights = sum(p.numel() for n, p in mod.named_parameters() if n.startswith("weight"))
        lstm[0] += 2.0 * weights * rows_steps

    handles = [m.register_forward_hook(on_lstm) for m in module.modules()
               if isinstance(m, torch.nn.LSTM)]
    # no_grad, not inference_mode: EnCodec's weight-norm parametrization fails under
    # FlopCounterMode in inference mode.
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as fc, \
                contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fn()
    finally:
        for h in handles:
            h.remove()
    return float(fc.get_total_flops()) + lstm[0]


def rooflines(py, a, prompt_a, ys):
    m, B = py.model, a.batch
    cfg = m.config.decoder
    H, L, F, K, V = cfg.hidden_size, cfg.num_hidden_layers, cfg.ffn_dim, cfg.num_codebooks, cfg.vocab_size
    steps, rows = py.steps, 2.0 * B
    enc = py.tok([prompt_a], return_tensors="pt")
    text_len = enc["input_ids"].shape[1]
    # Decoder, as bench_generate: per step every projection and head for each CFG row, weights
    # read once for all rows; attention over t/2 cached keys on average and the text states.
    params = L * (6.0 * H * H + 2.0 * H * F) + K * V * H
    kv = 0.5 * steps + text_len
    step_flops = 2.0 * params * rows + 4.0 * L * H * rows * kv
    step_bytes = 4.0 * params + 2.0 * L * H * rows * kv * 4.0
    out = {"decoder": {"flops": step_flops * steps, "bytes": step_bytes * steps, "how": "analytic",
                       "roofline": steps * max(step_flops / ys["peak"], step_bytes / ys["bandwidth"])}}

    def weight_bytes(mod):
        return 4.0 * sum(p.numel() for p in mod.parameters())

    # T5: the one prompt the batch needs (mgsweep encodes it once; the paper's stack encodes
    # B copies, which is its own cost, not the work's).
    t5 = count_flops(lambda: m.text_encoder(**enc), m.text_encoder)
    codes = py.last_codes[:, :1]  # one clip's codes [1, 1, K, frames]
    clip = count_flops(lambda: m.audio_encoder.decode(codes, [None]), m.audio_encoder)
    audio = torch.zeros(1, int(round(a.seconds * 32000)))
    passt = count_flops(lambda: py.passt(audio), py.passt)
    for name, flops, mod in (("t5", t5, m.text_encoder), ("encodec", clip * B, m.audio_encoder.decoder),
                             ("classifier", passt * B, py.passt)):
        wb = weight_bytes(mod)
        out[name] = {"flops": flops, "bytes": wb, "how": "FlopCounterMode",
                     "roofline": max(flops / ys["peak"], wb / ys["bandwidth"])}
    return out


# ------------------------------------------------------------------------------------------


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mgsweep", default=os.path.join(ROOT, "build", "src", "mgsweep"))
    p.add_argument("--model", required=True, help="a checkpoint from mgsweep make-model")
    p.add_argument("--passt", required=True, help="tools/export_passt.py --random-weights file "
                   "for exactly --seconds")
    p.add_argument("--passt-seed", type=int, default=0, help="the --seed of that export")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--batch", type=int, default=16, help="items (targets) per batch")
    p.add_argument("--greedy", action="store_true", help="greedy on both sides (default: top-k "
                   "250 sampling at temperature 1, as the paper)")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--work", default=os.path.join(ROOT, "build", "bench", "item"))
    p.add_argument("--json", help="also write the numbers here")
    a = p.parse_args()
    os.makedirs(a.work, exist_ok=True)
    with open(os.path.join(a.model, "config.json")) as f:
        layers = json.load(f)["decoder"]["num_hidden_layers"]
    if not 1 <= a.batch <= layers:
        raise SystemExit(f"--batch {a.batch}: one target per layer, and the model has {layers}")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(os.path.join(ROOT, "configs", "paper_concepts.toml"), "rb") as f:
        concepts = tomllib.load(f)["concept"]
    label_a, label_b = concepts[ORIGINAL]["label"], concepts[DESIRED]["label"]

    load0 = os.getloadavg()
    if load0[0] > 0.75 * a.threads:
        print(f"warning: load average {load0[0]:.2f} before starting: other processes share the "
              "cores, and OpenMP threads that wait for descheduled peers slow the many small ops "
              "of the Python decoder far more than mgsweep (seen: 10x); compare only numbers "
              "from a quiet machine")
    ys = yardsticks(a.threads)
    print(f"machine: {a.threads} threads, load average {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
          f"torch {torch.__version__}")
    print(f"compute peak {ys['peak'] / 1e9:.1f} GFLOP/s (theoretical {ys['theoretical_how']} = "
          f"{ys['theoretical'] / 1e9:.1f}, ATen 2048^3 best of 5 {ys['gemm'] / 1e9:.1f}); read "
          f"bandwidth {ys['bandwidth'] / 1e9:.1f} GB/s (torch sum over 512 MB, best of 5)")
    mode = "greedy" if a.greedy else "top-k 250 sampling"
    print(f"work: {a.batch} items = {a.batch} intervention targets (fc2 of layers 0..{a.batch - 1}, "
          f"replace) on one {ORIGINAL} prompt, {a.seconds:g} s, guidance 3, {mode}, float32, CPU")

    print("== mgsweep run ...", flush=True)
    mg = run_mgsweep(a)
    prompt_a, prompt_b = mg["prompts"][0], mg["prompts"][1]  # /prompts[c * P + p], P = 1

    print("== python (transformers + hear21passt) ...", flush=True)
    py = PythonPipeline(a)
    t0 = time.perf_counter()
    py.baseline(prompt_a, prompt_b)
    py_baseline = time.perf_counter() - t0
    item = py.item_batch(prompt_a, label_a, label_b)
    py_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    roof = rooflines(py, a, prompt_a, ys)
    load1 = os.getloadavg()

    mg_ips, py_ips = mg["items"] / mg["seconds"], item["items"] / item["seconds"]
    print()
    print(f"mgsweep: {mg_ips:.3f} items/s ({mg['items']} items in {mg['seconds']:.1f} s of "
          f"intervention batches); whole run {mg['wall']:.1f} s: baseline stage "
          f"{mg['stage_seconds'][0]:.1f} s for {mg['stage_items'][0]} items, load, store and "
          f"coordination {mg['wall'] - sum(mg['stage_seconds']):.1f} s; peak RSS "
          f"{mg['peak_rss_mib']:.0f} MiB")
    print(f"python:  {py_ips:.3f} items/s ({item['items']} items in {item['seconds']:.1f} s); "
          f"load {py.load_seconds:.1f} s, baseline (2 prompts) {py_baseline:.1f} s; peak RSS "
          f"{py_rss:.0f} MiB (this process)")
    print(f"ratio mgsweep / python: {mg_ips / py_ips:.2f}x (issue 10's target: >= 2x)")
    print()
    print(f"per part, one batch of {a.batch} items (roofline: max(FLOPs / peak, weight bytes / "
          "bandwidth); x = seconds / roofline)")
    print(f"{'part':11s} {'GFLOP':>9s} {'roofline s':>10s} | {'mgsweep s':>9s} {'share':>6s} "
          f"{'x roof':>7s} | {'python s':>9s} {'share':>6s} {'x roof':>7s} | FLOPs by")
    for part in PARTS:
        r = roof.get(part)
        ms, ps = mg["parts"][part], item["parts"][part]
        cols = [f"{part:11s}", f"{r['flops'] / 1e9:9.1f}" if r else f"{'-':>9s}",
                f"{r['roofline']:10.3f}" if r else f"{'-':>10s}",
                f"| {ms:9.2f} {100 * ms / mg['seconds']:5.1f}%",
                f"{ms / r['roofline']:6.1f}x" if r else f"{'-':>7s}",
                f"| {ps:9.2f} {100 * ps / item['seconds']:5.1f}%",
                f"{ps / r['roofline']:6.1f}x" if r else f"{'-':>7s}", f"| {r['how'] if r else ''}"]
        print(" ".join(cols))
    total_roof = sum(r["roofline"] for r in roof.values())
    print(f"{'item batch':11s} {sum(r['flops'] for r in roof.values()) / 1e9:9.1f} "
          f"{total_roof:10.3f} | {mg['seconds']:9.2f} {100.0:5.1f}% {mg['seconds'] / total_roof:6.1f}x "
          f"| {item['seconds']:9.2f} {100.0:5.1f}% {item['seconds'] / total_roof:6.1f}x |")
    print(f"mean |effect| over the batch (a check that the interventions ran; values differ: "
          f"other sampler, other noise): mgsweep {mg['effect_abs']:.4f}, python "
          f"{item['effect_abs']:.4f}")
    print(f"load average at the end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f}")
    if a.json:
        res = {"args": vars(a), "yardsticks": ys, "rooflines": roof, "load_start": load0,
               "load_end": load1, "mgsweep": {k: v for k, v in mg.items() if k != "log"},
               "python": {"items": item["items"], "seconds": item["seconds"],
                          "parts": item["parts"], "load_seconds": py.load_seconds,
                          "baseline_seconds": py_baseline, "peak_rss_mib": py_rss,
                          "effect_abs": item["effect_abs"]},
               "items_per_s": {"mgsweep": mg_ips, "python": py_ips}, "ratio": mg_ips / py_ips}
        with open(a.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
