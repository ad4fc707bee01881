#!/usr/bin/env python3
"""Export hear21passt's PaSST (AudioSet, 527 classes, logits) to TorchScript for mgsweep.

The paper scores every generation with `hear21passt.base.get_basic_model(mode="logits")`:
PaSST-S (passt_s_swa_p16_128_ap476) behind its own mel front end, 32 kHz mono in, logits out.
This script wraps exactly that network and front end into one traced module that
`mgsweep::classify::TorchScriptClassifier` loads with torch::jit::load.

    python tools/export_passt.py --out passt.pt --seconds 10          # pretrained (downloads)
    python tools/export_passt.py --out rnd.pt --random-weights --seed 0  # no internet needed

Why a wrapper instead of tracing PasstBasicWrapper directly:
  * hear21passt's AugmentMelSTFT recomputes its mel filterbank on every call with
    torchaudio ops on hard-coded CPU tensors; a trace records those ops with a constant
    `device=cpu`, so the traced file fails on CUDA. The wrapper computes the same filterbank
    once, with the same torchaudio call, and keeps it as a buffer that follows the module's
    device. The remaining ops are copied from AugmentMelSTFT.forward in eval mode.
  * PaSST is traced, not scripted, and its time positional embedding is sliced to the input
    length at trace time, so a file serves exactly one input length. That length is an
    argument here and is written into the file (extra file `mgsweep.json`) together with
    the sample rate and the class count; the C++ loader pads or crops to it.

`python tools/export_passt.py --check` (also run by the differential test) compares the
exported file with the unwrapped hear21passt model on random audio.
"""

import argparse
import contextlib
import io
import json
import math
import os
import sys
import warnings

import torch
from torch import nn

SAMPLE_RATE = 32000  # hear21passt's AugmentMelSTFT(sr=32000) in get_basic_model
NUM_CLASSES = 527
DEFAULT_ARCH = "passt_s_swa_p16_128_ap476"  # get_basic_model's default: the paper's model
# The time positional embedding has 99 patch columns (input_tdim=998, stride 10); with
# hop 320 that is 1005 STFT frames at most, i.e. 1004*320+1 samples (about 10.05 s).
MAX_INPUT_SAMPLES = 1004 * 320 + 1
FORMAT = "mgsweep.classifier"
FORMAT_VERSION = 1


def import_hear21passt():
    """Imports hear21passt, working around torchaudio's CUDA-version guard.

    hear21passt imports torchaudio for its mel filterbank (pure Python). The last torchaudio
    wheel on PyPI is built for one CUDA version and refuses to import next to a torch built
    for another, although nothing CUDA-specific of torchaudio is used here. If the plain
    import fails for that reason only, hide torch's CUDA version while torchaudio loads.
    """
    try:
        import torchaudio  # noqa: F401
    except RuntimeError as e:
        if "CUDA version" not in str(e):
            raise
        for name in [m for m in sys.modules if m == "torchaudio" or m.startswith("torchaudio.")]:
            del sys.modules[name]
        saved = torch.version.cuda
        torch.version.cuda = None
        try:
            import torchaudio  # noqa: F401,F811
        finally:
            torch.version.cuda = saved
    import hear21passt.models.passt as passt
    import hear21passt.models.preprocess as preprocess
    import hear21passt.wrapper as wrapper
    return passt, preprocess, wrapper


def build_reference_model(arch=DEFAULT_ARCH, pretrained=True, seed=0):
    """The model the paper used: get_basic_model(mode="logits"), in eval mode.

    With pretrained=False every parameter gets seeded random values instead of the AudioSet
    weights (which need a download): PaSST's own init leaves LayerNorms at 1/0 and biases at
    0, which would hide a wrongly loaded LayerNorm or bias, so all of them are perturbed.
    """
    passt, preprocess, wrapper = import_hear21passt()
    with contextlib.redirect_stdout(io.StringIO()):  # hear21passt prints banners
        # Same arguments as hear21passt.base.get_basic_model.
        mel = preprocess.AugmentMelSTFT(n_mels=128, sr=SAMPLE_RATE, win_length=800,
                                        hopsize=320, n_fft=1024, freqm=48, timem=192,
                                        htk=False, fmin=0.0, fmax=None, norm=1,
                                        fmin_aug_range=10, fmax_aug_range=2000)
        torch.manual_seed(seed)
        net = passt.get_model(arch=arch, pretrained=pretrained)
        if not pretrained:
            gen = torch.Generator().manual_seed(seed)
            with torch.no_grad():
                for p in net.parameters():
                    p.add_(torch.randn(p.shape, generator=gen) * 0.02)
        model = wrapper.PasstBasicWrapper(mel=mel, net=net, mode="logits")
    return model.eval()


class PasstLogits(nn.Module):
    """hear21passt's mel front end (eval mode) + PaSST, with the filterbank as a buffer."""

    def __init__(self, reference):
        super().__init__()
        mel = reference.mel
        self.net = reference.net
        self.n_fft, self.hop, self.win_length = mel.n_fft, mel.hopsize, mel.win_length
        self.register_buffer("window", mel.window.clone())
        self.register_buffer("preemphasis", mel.preemphasis_coefficient.clone())
        # The same call as AugmentMelSTFT.forward with training off (fmin, fmax fixed).
        import torchaudio
        banks, _ = torchaudio.compliance.kaldi.get_mel_banks(
            mel.n_mels, mel.n_fft, mel.sr, mel.fmin, mel.fmax,
            vtln_low=100.0, vtln_high=-500.0, vtln_warp_factor=1.0)
        self.register_buffer("mel_basis", nn.functional.pad(banks, (0, 1), value=0.0))

    def forward(self, audio):  # [batch, samples] at 32 kHz -> [batch, 527]
        x = nn.functional.conv1d(audio.unsqueeze(1), self.preemphasis).squeeze(1)
        x = torch.stft(x, self.n_fft, hop_length=self.hop, win_length=self.win_length,
                       center=True, normalized=False, window=self.window, return_complex=True)
        # hear21passt asks for return_complex=False (deprecated); view_as_real gives the same
        # numbers, so the power below is bit-identical.
        x = (torch.view_as_real(x) ** 2).sum(dim=-1)
        x = torch.matmul(self.mel_basis, x)
        x = (x + 0.00001).log()
        x = (x + 4.5) / 5.0
        logits, _ = self.net(x.unsqueeze(1))
        return logits


def export(reference, out_path, input_samples, labels_csv=None, meta_extra=None):
    """Traces PasstLogits for `input_samples` samples and writes it with its metadata."""
    if not 16 * 320 <= input_samples <= MAX_INPUT_SAMPLES:
        raise SystemExit(f"--seconds/--input-samples: {input_samples} samples is outside "
                         f"[{16 * 320}, {MAX_INPUT_SAMPLES}], the range PaSST's positional "
                         "embeddings cover at 32 kHz")
    module = PasstLogits(reference).eval()
    example = torch.zeros(2, input_samples)
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        # The tracer's warnings are about the shape-dependent branches discussed above
        # (fixed on purpose) and torch.jit's deprecation notice.
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, example, check_trace=False)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": "hear21passt PaSST logits",
        "sample_rate": SAMPLE_RATE,
        "input_samples": int(input_samples),
        "num_classes": NUM_CLASSES,
        "output": "logits",
        "torch": torch.__version__,
    }
    meta.update(meta_extra or {})
    extra = {"mgsweep.json": json.dumps(meta, indent=2)}
    if labels_csv:
        with open(labels_csv, encoding="utf-8") as f:
            extra["labels.csv"] = f.read()
    torch.jit.save(traced, out_path, _extra_files=extra)
    return traced


def check(reference, out_path, input_samples, seed=1, tol=1e-4):
    """Max |exported - hear21passt| over a few random clips; raises if above tol."""
    gen = torch.Generator().manual_seed(seed)
    audio = torch.randn(3, input_samples, generator=gen) * 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit's deprecation notice
        loaded = torch.jit.load(out_path)
    with torch.no_grad(), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hear21passt's torch.cuda.amp use, input-size notes
        diff = (loaded(audio) - reference(audio)).abs().max().item()
    if not diff <= tol:
        raise SystemExit(f"{out_path}: exported logits differ from hear21passt by {diff}")
    return diff


def package_version(name):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:  # noqa: BLE001 -- a missing version is not worth failing an export
        return "unknown"


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="TorchScript file to write")
    p.add_argument("--seconds", type=float, default=10.0,
                   help="clip length the file accepts (the C++ side pads/crops to it); use "
                        "the generation length to score clips as the paper did "
                        "(default 10, max ~10.05)")
    p.add_argument("--input-samples", type=int,
                   help="exact clip length in samples (overrides --seconds)")
    p.add_argument("--arch", default=DEFAULT_ARCH, help="hear21passt architecture name")
    p.add_argument("--random-weights", action="store_true",
                   help="seeded random weights instead of the AudioSet checkpoint "
                        "(tests, benchmarks)")
    p.add_argument("--seed", type=int, default=0, help="seed for --random-weights")
    p.add_argument("--labels", default=os.path.join(here, "..", "configs", "audioset_labels.csv"),
                   help="label CSV (index,mid,display_name) embedded in the file; '' to skip")
    p.add_argument("--no-check", action="store_true", help="skip the comparison with hear21passt")
    args = p.parse_args(argv)

    samples = args.input_samples or int(round(args.seconds * SAMPLE_RATE))
    reference = build_reference_model(args.arch, pretrained=not args.random_weights, seed=args.seed)
    meta = {"arch": args.arch, "pretrained": not args.random_weights,
            "hear21passt": package_version("hear21passt")}
    if args.random_weights:
        meta["seed"] = args.seed
    export(reference, args.out, samples, args.labels or None, meta)
    msg = f"wrote {args.out}: {samples} samples at {SAMPLE_RATE} Hz -> {NUM_CLASSES} logits"
    if not args.no_check:
        msg += f"; max |diff| vs hear21passt = {check(reference, args.out, samples):.2e}"
    print(msg)


if __name__ == "__main__":
    main()
