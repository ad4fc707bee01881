"""An independent reference implementation of the paper's experiments (tests/oracle/README.md).

Written from the paper (ISMIR 2024, "Exploring the Inner Mechanisms of Large Generative Music
Models"), the original code (github.com/Marcel-Velez/musicgen-mech-interp), the project's DESIGN.md
and the README's store schema -- not from mgsweep's C++ sources. The model is transformers'
MusicgenForConditionalGeneration driven by its own `generate` (delay pattern, classifier-free
guidance, greedy decoding, EnCodec decoding), observed and changed with forward hooks on each
decoder layer's `self_attn.out_proj`, `encoder_attn.out_proj` and `fc2` (and a forward pre-hook
on an out_proj for a head's slice of its input), as the original code hooks audiocraft's
`self_attn.out_proj`, `cross_attention.out_proj` and `linear2`. The classifier is the job's
TorchScript file, loaded with torch.jit.load.

    python mgoracle.py JOB.toml --out ORACLE.h5 [--repo DIR]

writes every dataset of the store schema that the job fills, in the store's layout, from
scratch. run_oracle.py compares it with a store written by `mgsweep run`.
"""

import argparse
import contextlib
import io
import json
import os
import sys
import time
import warnings
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import oracle_deps  # noqa: E402

# Before transformers is imported: hide a broken torchaudio, stay offline.
oracle_deps.prepare_transformers_import()

import numpy as np  # noqa: E402
import torch  # noqa: E402

from oracle_job import (  # noqa: E402,F401  (re-exported: run_oracle.py reads them here)
    PAPER_CONCEPTS,
    PAPER_SLOT_LOOP,
    PAPER_TEMPLATE,
    PAPER_VOCAB,
    Job,
    load_toml_with_includes,
    original_prompts,
    site_name,
    target_name,
)
from oracle_metrics import (  # noqa: E402,F401
    ideal_precision,
    intervention_scores,
    log_softmax64,
    ndcg,
)

# A deliberately wrong oracle, to show that the comparison notices (README, "Sensitivity"):
# MGORACLE_MUTATE=both_halves | frame_avg_means | window_end_inclusive | head_shift.
MUTATE = os.environ.get("MGORACLE_MUTATE", "")

# --------------------------------------------------------------------------------------------
# The model: transformers' MusicGen with hooks.


class Oracle:
    def __init__(self, model_dir, classifier_path=None):
        import transformers
        from transformers import AutoTokenizer, MusicgenForConditionalGeneration

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        with contextlib.redirect_stderr(io.StringIO()):
            self.model = MusicgenForConditionalGeneration.from_pretrained(model_dir).eval()
        self.tok = AutoTokenizer.from_pretrained(model_dir)
        self.dec = self.model.decoder.model.decoder
        self.layers = self.dec.layers
        cfg = self.model.config.decoder
        self.K = cfg.num_codebooks
        self.L = cfg.num_hidden_layers
        self.NH = cfg.num_attention_heads
        self.H = cfg.hidden_size
        self.hd = self.H // self.NH
        self.pad = cfg.pad_token_id
        self.classifier, self.classifier_meta = None, {}
        if classifier_path:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.classifier = torch.jit.load(classifier_path).eval()
            with zipfile.ZipFile(classifier_path) as z:
                meta_name = [n for n in z.namelist() if n.endswith("extra/mgsweep.json")]
                self.classifier_meta = json.loads(z.read(meta_name[0])) if meta_name else {}
        self.sample_rate = self.model.config.audio_encoder.sampling_rate

    # -- hook helpers ---------------------------------------------------------------------
    def module(self, layer, comp):
        lay = self.layers[layer]
        return {"self_attn": lay.self_attn.out_proj, "cross_attn": lay.encoder_attn.out_proj,
                "mlp": lay.fc2}[comp]

    def generate(self, prompts, guidance, frames, capture_sites=(), capture_layers=False,
                 edits=None, lens_k=None):
        """Greedy CFG generation of `frames` frames for the prompts (one row each).

        capture_sites: sites whose conditional rows are recorded at every step.
        capture_layers: also record every layer's output (the residual stream).
        edits: {row: (site, (t0, t1), technique, m_original [steps, w], m_desired [steps, w])}
            applied to that conditional row only.
        lens_k: keep only the first k decoder layers (DecoderLens).
        Returns codes [B, K, frames] int64, audio [B, C, samples], captures
        {site: [B, steps, w]}, layer outputs [B, L, steps, H].
        """
        B = len(prompts)
        steps = frames + self.K - 1
        state = {"step": -1}
        caps = {s: {} for s in capture_sites}
        louts = {}
        handles = []

        def on_decoder(mod, args, kwargs):
            # transformers 5 runs the first (prefill) step twice in MusicGen.generate and
            # discards the first one; a call with an empty cache is step 0.
            cache = kwargs.get("cache", kwargs.get("past_key_values"))
            if cache is None or cache.get_seq_length() == 0:
                state["step"] = 0
            else:
                state["step"] += 1

        handles.append(self.dec.register_forward_pre_hook(on_decoder, with_kwargs=True))

        by_site = {}
        for row, e in (edits or {}).items():
            by_site.setdefault(e[0], []).append((row,) + tuple(e[1:]))

        def apply_edits(x, site, sl):
            s = state["step"]
            for row, (t0, t1), tech, m_o, m_d in by_site.get(site, []):
                end = steps if t1 is None else t1 + (MUTATE == "window_end_inclusive")
                if not (t0 <= s < end):
                    continue
                # x: [2B, 1, width]; rows 0..B-1 are conditional (HF's CFG layout), and only
                # the conditional row is intervened (the original's inject_activation_hook_fn)
                for r in (row, row + B) if MUTATE == "both_halves" else (row,):
                    cur = x[r, 0, sl]
                    if tech == "replace":
                        x[r, 0, sl] = m_d[s]
                    elif tech == "adjust":
                        x[r, 0, sl] = cur - m_o[s] + m_d[s]
                    else:
                        raise ValueError(tech)

        sites = set(capture_sites) | set(by_site)
        for site in sites:
            layer, comp, head = site
            if lens_k is not None and layer >= lens_k:
                continue
            mod = self.module(layer, comp)
            if head is None:
                def fwd(m, inp, out, site=site):
                    if site in by_site:
                        out = out.clone()
                        apply_edits(out, site, slice(None))
                    if site in caps:
                        caps[site][state["step"]] = out[:B, 0].detach().double().clone()
                    return out
                handles.append(mod.register_forward_hook(fwd))
            else:
                hh = (head + 1) % self.NH if MUTATE == "head_shift" else head
                sl = slice(hh * self.hd, (hh + 1) * self.hd)

                def pre(m, args, site=site, sl=sl):
                    x = args[0]
                    if site in by_site:
                        x = x.clone()
                        apply_edits(x, site, sl)
                    if site in caps:
                        caps[site][state["step"]] = x[:B, 0, sl].detach().double().clone()
                    return (x,) + tuple(args[1:])
                handles.append(mod.register_forward_pre_hook(pre))

        if capture_layers:
            for i, lay in enumerate(self.layers):
                def lfwd(m, inp, out, i=i):
                    o = out[0] if isinstance(out, tuple) else out
                    louts[(i, state["step"])] = o[:B, 0].detach().double().clone()
                handles.append(lay.register_forward_hook(lfwd))

        captured = {}
        orig_decode = self.model.audio_encoder.decode

        def decode(audio_codes, *a, **kw):
            captured.setdefault("codes", []).append(audio_codes.detach().clone())
            return orig_decode(audio_codes, *a, **kw)

        self.model.audio_encoder.decode = decode
        saved_layers = self.dec.layers
        if lens_k is not None:
            self.dec.layers = torch.nn.ModuleList(list(saved_layers)[:lens_k])
        try:
            enc = self.tok(prompts, return_tensors="pt", padding=True)
            with torch.no_grad():
                audio = self.model.generate(**enc, do_sample=False, guidance_scale=guidance,
                                            max_new_tokens=steps)
        finally:
            self.dec.layers = saved_layers
            del self.model.audio_encoder.decode
            for h in handles:
                h.remove()
        if state["step"] != steps - 1:
            raise AssertionError(f"oracle: saw {state['step'] + 1} decoder steps, expected {steps}")
        codes = captured["codes"][0][0]  # [B, K, frames] (mono)
        if tuple(codes.shape) != (B, self.K, frames):
            raise AssertionError(f"oracle: codes of shape {tuple(codes.shape)}")
        cap_out = {s: torch.stack([c[t] for t in range(steps)], 1).numpy() for s, c in caps.items()}
        lay_out = None
        if capture_layers:
            L = len(self.layers)
            lay_out = np.stack([np.stack([louts[(i, t)].numpy() for t in range(steps)], 1)
                                for i in range(L)], 1)  # [B, L, steps, H]
        return codes.numpy(), audio, cap_out, lay_out

    def classify(self, audio, chunk=32):
        """Classifier logits of clips [N, C, samples]: channels averaged to mono, the clip as
        it is (its length must be the classifier file's input length)."""
        mono = audio.mean(dim=1)
        want = self.classifier_meta.get("input_samples")
        if want is not None and mono.shape[-1] != want:
            raise SystemExit(f"oracle: clips have {mono.shape[-1]} samples but the classifier "
                             f"was exported for {want}; export it for the generation length "
                             "(tools/export_passt.py --input-samples N)")
        outs = []
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(0, mono.shape[0], chunk):
                outs.append(self.classifier(mono[i:i + chunk]).float())
        return torch.cat(outs).numpy()


# --------------------------------------------------------------------------------------------
# The oracle itself against audiocraft: tests/golden/tiny holds audiocraft's (the paper's code
# base's) outputs; for its unpadded prompt 0 audiocraft and transformers agree, so the oracle's
# generation, hooks, step numbering, DecoderLens cut and intervention mechanics must give them.


def golden_selfcheck(golden_dir):
    """[(name, n, max abs diff, tolerance)] of the oracle against tests/golden/tiny (audiocraft)."""
    from safetensors.torch import load_file
    meta = json.load(open(os.path.join(golden_dir, "expected_meta.json")))
    e = load_file(os.path.join(golden_dir, "expected.safetensors"))
    orc = Oracle(golden_dir)
    r = meta["unpadded_prompts"][0]
    prompt = [meta["prompts"][r]]
    frames, g = meta["frames"], meta["guidance_scale"]
    steps = frames + orc.K - 1
    sites = [(i, c, None) for i in range(orc.L) for c in ("self_attn", "cross_attn", "mlp")]
    out = []
    codes, _, caps, louts = orc.generate(prompt, g, frames, capture_sites=sites, capture_layers=True)
    out.append(("gen.ac.codes (greedy CFG)", codes.size,
                int(np.abs(codes[0] - e["gen.ac.codes"][r].numpy()).max()), 0))
    key = {"self_attn": "self_attn_out_proj", "cross_attn": "cross_attn_out_proj", "mlp": "fc2"}
    d = 0.0
    n = 0
    for (i, c, _), v in caps.items():
        ref = e[f"gen.ac.act.layer{i}.{key[c]}"][r].double().numpy()  # [steps, H], cond row r
        d = max(d, float(np.abs(v[0] - ref).max()))
        n += ref.size
    for i in range(orc.L):
        ref = e[f"gen.ac.act.layer{i}.output"][r].double().numpy()
        d = max(d, float(np.abs(louts[0, i] - ref).max()))
        n += ref.size
    out.append(("gen.ac.act.* (per-step hooks, conditional row)", n, d, 1e-4))
    for k in meta["decoder_lens_k"]:
        lc, _, _, _ = orc.generate(prompt, g, frames, lens_k=k)
        out.append((f"lens.k{k}.ac.codes (DecoderLens)", lc.size,
                    int(np.abs(lc[0] - e[f"lens.k{k}.ac.codes"][r].numpy()).max()), 0))
    iv = meta["intervention"]
    v = e[iv["vector"]].float()
    zero = torch.zeros(steps, v.shape[0])
    site = (iv["layer"], "mlp", None)
    # out[cond row] += v == adjust with m_original = 0, m_desired = v
    ic, _, _, _ = orc.generate(prompt, g, frames, edits={0: (site, (0, None), "adjust", zero, v.expand(steps, -1))})
    out.append(("intv.add_cond.ac.codes (conditional-row edit)", ic.size,
                int(np.abs(ic[0] - e["intv.add_cond.ac.codes"][r].numpy()).max()), 0))
    return out


# --------------------------------------------------------------------------------------------
# The experiments.


def run_job(job_path, repo, log=print):
    t_start = time.time()
    cwd = os.getcwd()
    os.chdir(repo)  # the job's model/classifier paths are relative to where mgsweep runs
    try:
        import transformers
        from transformers import MusicgenConfig
        transformers.logging.set_verbosity_error()
        cfg = MusicgenConfig.from_pretrained(load_toml_with_includes(job_path)["model"])
        job = Job(job_path, cfg.decoder.num_hidden_layers, cfg.decoder.num_attention_heads)
        orc = Oracle(job.model, job.classifier["path"])
    finally:
        os.chdir(cwd)
    job.steps = job.frames + orc.K - 1
    C, P, K, T, steps = len(job.concepts), job.per_concept, orc.K, job.frames, job.steps
    out = {}
    out["/concepts"] = np.array([c["name"] for c in job.concepts], dtype=object)
    out["/prompts"] = np.array([p for ps in job.prompts for p in ps], dtype=object)

    # ---- baseline: codes, logits, NDCG, per-step means, self-similarity -------------------
    sites = job.sites if job.interventions else []
    codes = np.zeros((C, P, K, T), np.int64)
    audio_all = []
    means = {}  # site -> [C, steps, w] float64
    selfsim = np.zeros((C, job.L, job.L))
    for c in range(C):
        cd, audio, caps, louts = orc.generate(job.prompts[c], job.guidance, T, capture_sites=sites,
                                              capture_layers=job.self_similarity)
        codes[c] = cd
        audio_all.append(audio)
        for s in sites:
            # mean over the concept's prompts of the conditional row, step by step
            means.setdefault(s, np.zeros((C, steps, caps[s].shape[-1])))[c] = caps[s].mean(0)
        if job.self_similarity:
            fa = louts.mean(2)  # [P, L, H]: frame-averaged residual stream of each layer
            d = np.sqrt(((fa[:, :, None, :] - fa[:, None, :, :]) ** 2).sum(-1))  # [P, L, L]
            selfsim[c] = d.mean(0)
    base_logits = orc.classify(torch.cat(audio_all)).reshape(C, P, -1)
    out["/baseline/codes"] = codes
    out["/baseline/logits"] = base_logits
    out["/baseline/ndcg"] = np.array([[ndcg(base_logits[c, p], job.concepts[c]["relevant"])
                                       for p in range(P)] for c in range(C)])
    if job.self_similarity:
        out["/baseline/self_similarity"] = selfsim
    if sites:
        block = [s for s in sites if s[2] is None]
        head = [s for s in sites if s[2] is not None]
        out["/means/sites"] = np.array([site_name(s) for s in block + head], dtype=object)
        if block:
            out["/means/blocks"] = np.stack([means[s] for s in block], 1)  # [C, S, steps, H]
            out["/means/blocks_frame_avg"] = out["/means/blocks"].mean(2)
        if head:
            out["/means/heads"] = np.stack([means[s] for s in head], 1)
            out["/means/heads_frame_avg"] = out["/means/heads"].mean(2)
    log(f"oracle: baseline done ({time.time() - t_start:.1f} s)")

    # ---- DecoderLens ------------------------------------------------------------------------
    if job.lens:
        nK = len(job.lens_k)
        lcodes = np.zeros((C, P, nK, K, T), np.int64)
        laudio = []
        for c in range(C):
            for ki, k in enumerate(job.lens_k):
                cd, audio, _, _ = orc.generate(job.prompts[c], job.guidance, T, lens_k=k)
                lcodes[c, :, ki] = cd
                laudio.append(audio)
        ll = orc.classify(torch.cat(laudio)).reshape(C, nK, P, -1).transpose(0, 2, 1, 3)
        out["/lens/k"] = np.array(job.lens_k, np.int64)
        out["/lens/codes"] = lcodes
        out["/lens/logits"] = ll
        out["/lens/ndcg"] = np.array([[[ndcg(ll[c, p, ki], job.concepts[c]["relevant"])
                                        for ki in range(nK)] for p in range(P)] for c in range(C)])
        log(f"oracle: lens done ({time.time() - t_start:.1f} s)")

    # ---- interchange interventions ----------------------------------------------------------
    if job.interventions:
        nT, nQ, J = len(job.techniques), len(job.pairs), len(job.targets)
        icodes = np.zeros((nT, nQ, P, J, K, T), np.int64)
        ilogits = np.zeros((nT, nQ, P, J, base_logits.shape[-1]), np.float32)
        if MUTATE == "frame_avg_means":
            means = {s: np.broadcast_to(m.mean(1, keepdims=True), m.shape) for s, m in means.items()}
        m32 = {s: torch.from_numpy(np.ascontiguousarray(m, dtype=np.float32)) for s, m in means.items()}
        for a in range(C):
            items = [(ti, qi, j) for ti in range(nT) for qi, (qa, _) in enumerate(job.pairs) if qa == a
                     for j in range(J)]
            if not items:
                continue
            for p in range(P):
                edits = {}
                for row, (ti, qi, j) in enumerate(items):
                    site, win = job.targets[j]
                    b = job.pairs[qi][1]
                    edits[row] = (site, win, job.techniques[ti], m32[site][a], m32[site][b])
                cd, audio, _, _ = orc.generate([job.prompts[a][p]] * len(items), job.guidance, T,
                                               edits=edits)
                lg = orc.classify(audio)
                for row, (ti, qi, j) in enumerate(items):
                    icodes[ti, qi, p, j] = cd[row]
                    ilogits[ti, qi, p, j] = lg[row]
            log(f"oracle: interventions on {job.concepts[a]['name']} done ({time.time() - t_start:.1f} s)")
        eff = np.zeros((nT, nQ, P, J))
        eo, ed, prec = np.zeros_like(eff), np.zeros_like(eff), np.zeros_like(eff)
        ideal = np.zeros((nQ, P))
        for qi, (a, b) in enumerate(job.pairs):
            la, lb = job.concepts[a]["label"], job.concepts[b]["label"]
            for p in range(P):
                ideal[qi, p] = ideal_precision(base_logits[a, p], la, lb)
                for ti in range(nT):
                    for j in range(J):
                        eff[ti, qi, p, j], eo[ti, qi, p, j], ed[ti, qi, p, j], prec[ti, qi, p, j] = \
                            intervention_scores(base_logits[a, p], ilogits[ti, qi, p, j], la, lb)
        out["/interventions/codes"] = icodes
        out["/interventions/logits"] = ilogits
        out["/interventions/effect"] = eff
        out["/interventions/effect_original"] = eo
        out["/interventions/effect_desired"] = ed
        out["/interventions/precision"] = prec
        out["/interventions/ideal_precision"] = ideal
        out["/interventions/status"] = np.zeros(eff.shape, np.uint8)  # 0 = ok: finite logits
        out["/interventions/pairs"] = np.array(job.pairs, np.int64)
        out["/interventions/techniques"] = np.array(job.techniques, dtype=object)
        out["/interventions/targets"] = np.array([target_name(t, steps) for t in job.targets], dtype=object)
        if job.extremes:
            order = np.argsort(-eff, axis=-1, kind="stable")
            out["/extremes/top"] = order[..., : job.top_k]
            out["/extremes/bottom"] = np.argsort(eff, axis=-1, kind="stable")[..., : job.top_k]
    out["_job"] = job
    out["_seconds"] = time.time() - t_start
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("job")
    ap.add_argument("--repo", default=os.getcwd(), help="where mgsweep runs (job paths are relative to it)")
    ap.add_argument("--out", required=True, help="HDF5 file for the oracle's datasets")
    args = ap.parse_args(argv)
    import h5py
    res = run_job(args.job, args.repo)
    with h5py.File(args.out, "w") as f:
        for k, v in res.items():
            if k.startswith("_"):
                continue
            if v.dtype == object:
                f.create_dataset(k, data=v.astype(str).astype(object), dtype=h5py.string_dtype())
            else:
                f.create_dataset(k, data=v)
    print(f"oracle: wrote {args.out} in {res['_seconds']:.1f} s")


if __name__ == "__main__":
    main()
