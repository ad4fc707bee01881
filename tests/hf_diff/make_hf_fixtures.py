#!/usr/bin/env python3
"""Make random-shape MusicGen fixtures with the real Hugging Face transformers library.

    python make_hf_fixtures.py --out DIR --count N --seed S [--layout mixed|legacy|v5] [--no-stereo]

For i in 0..N-1 this writes DIR/shape{i}/ holding a randomly initialised, tiny
MusicgenForConditionalGeneration (config.json, generation_config.json, model.safetensors,
tokenizer.json) and expected.safetensors + meta.json: the outputs transformers computes for it,
with the tensor names and layouts of the `*.hf.*` entries of tests/golden/tiny (see README.md
next to this file). Shape i is a pure function of (S, i): the same seed gives the same files for
every N.

Only transformers computes numbers; this script only draws shapes and weights, calls it, hooks
its modules and checks its own results (meta.json "checks").
"""

import argparse
import hashlib
import json
import math
import os
import random
import shutil
import sys
import time

# The venv's torchaudio may be built for another torch/CUDA and raise at import. transformers
# only needs it to load audio files, so hide a broken one (find_spec() returns None for a
# sys.modules entry of None, so transformers treats it as not installed).
try:  # noqa: SIM105
    import torchaudio  # noqa: F401
except Exception:  # pragma: no cover - depends on the environment
    for _k in [k for k in sys.modules if k == "torchaudio" or k.startswith("torchaudio.")]:
        del sys.modules[_k]
    sys.modules["torchaudio"] = None

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

import transformers  # noqa: E402
from transformers import (  # noqa: E402
    EncodecConfig,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    T5Config,
)

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN_TOKENIZER = os.path.join(HERE, "..", "golden", "tiny", "tokenizer.json")

GUIDANCE = 3.0
MIN_MARGIN = 1e-3  # re-draw the weights of a shape whose smallest greedy gap is below this
MAX_ATTEMPTS = 8
FRAME_RATE = 50  # sampling_rate = FRAME_RATE * hop_length

PROMPTS = [
    "Compose a happy rock piece, with a guitar melody. Use a fast tempo.",
    "Sad jazz with piano.",
    "80s pop track with bassy drums and synth",
    "Lo-fi hip hop beat",
    "An epic orchestral soundtrack with strings, brass and choir, building up slowly to a dramatic climax.",
    "ambient",
    "Calm   acoustic  guitar, soft and warm",
    "Techno!",
]


# ----------------------------------------------------------------------------------------------
# shapes


def _rng(seed, *what):
    return random.Random("mgsweep-hf/" + "/".join(str(x) for x in (seed,) + what))


def _seed_int(seed, *what):
    h = hashlib.sha256(("mgsweep-hf/" + "/".join(str(x) for x in (seed,) + what)).encode()).digest()
    return int.from_bytes(h[:8], "little") & ((1 << 63) - 1)


def draw_shape(seed, i, allow_stereo=True):
    """Shape i of seed: a pure function of (seed, i). Within every block of 4 consecutive shapes the
    decoder depths are a permutation of 1..4 and the codebook counts a permutation of {1,2,4,8};
    the K=4 shape of a block is stereo (2 x 2 codebooks) unless allow_stereo is false. Odd shapes
    use a gated-gelu (T5 v1.1) text encoder, even ones relu (t5-base) with heads*d_kv != d_model."""
    r = _rng(seed, "shape", i)
    blk = _rng(seed, "block", i // 4)
    depths = [1, 2, 3, 4]
    blk.shuffle(depths)
    ks = [1, 2, 4, 8]
    blk.shuffle(ks)
    K = ks[i % 4]
    stereo = bool(allow_stereo and K == 4)

    # decoder
    L = depths[i % 4]
    heads = r.choice([1, 2, 4, 8])
    head_dim = r.randint(4, 16)
    if heads == 1 and head_dim % 2:
        head_dim += 1  # keep hidden_size even (an odd one zero-pads the sinusoid; no real model has it)
    H = heads * head_dim
    ffn = r.randint(max(8, H), 4 * H)
    V = r.choice([16, 32, 64])  # EncodecModel requires a power-of-two codebook size

    # T5
    gated = i % 2 == 1
    t5_heads = r.choice([1, 2, 4, 8])
    d_kv = r.randint(4, 16)
    if gated:
        d_model = t5_heads * d_kv if 16 <= t5_heads * d_kv <= 64 else r.randint(16, 64)
    else:
        d_model = r.randint(16, 64)
        while d_model == t5_heads * d_kv:
            d_model = r.randint(16, 64)
    while d_model == H:  # equal sizes would drop enc_to_dec_proj (see NOTES.md); keep the projection
        d_model += 1
    t5 = dict(
        vocab_size=r.randint(160, 200),
        d_model=d_model,
        num_heads=t5_heads,
        d_kv=d_kv,
        d_ff=r.randint(16, 128),
        num_layers=r.randint(1, 3),
        relative_attention_num_buckets=2 * r.randint(4, 16),
        relative_attention_max_distance=r.randint(16, 128),
        feed_forward_proj="gated-gelu" if gated else "relu",
    )

    # EnCodec
    ratios = [r.randint(2, 5) for _ in range(r.randint(2, 4))]
    enc_hidden = r.choice([8, 12, 16, 24])
    encodec = dict(
        upsampling_ratios=ratios,
        num_filters=r.randint(2, 8),
        hidden_size=enc_hidden,
        codebook_dim=enc_hidden,
        num_lstm_layers=r.randint(1, 2),
        num_residual_layers=r.randint(1, 2),
        codebook_size=V,
        num_quantizers=K // 2 if stereo else K,
    )

    B = r.choice([2, 3])
    while True:
        prompts = r.sample(range(len(PROMPTS)), B)
        lens = {len(PROMPTS[p]) for p in prompts}
        if len(lens) == B:  # distinct lengths (in characters) -> in practice distinct token lengths
            break
    return dict(
        seed=seed,
        index=i,
        decoder=dict(
            num_hidden_layers=L,
            num_attention_heads=heads,
            head_dim=head_dim,
            hidden_size=H,
            ffn_dim=ffn,
            num_codebooks=K,
            vocab_size=V,
            audio_channels=2 if stereo else 1,
        ),
        text_encoder=t5,
        audio_encoder=encodec,
        batch=B,
        prompt_indices=prompts,
        frames=r.randint(8, 16),
        tf_frames=r.randint(5, 12),
        head_scale=4.0,
        intv_layer=r.randrange(L),
    )


def build_config(shape):
    d, t, e = shape["decoder"], shape["text_encoder"], shape["audio_encoder"]
    hop = int(math.prod(e["upsampling_ratios"]))
    nbits = int(math.ceil(math.log2(e["codebook_size"])))
    # transformers 5 computes num_quantizers = 1000*bw // (frame_rate * ceil(log2(codebook_size)));
    # put bw in the middle of the bucket that gives the wanted count.
    bw = round((e["num_quantizers"] + 0.5) * FRAME_RATE * nbits / 1000.0, 6)
    t5 = T5Config(
        vocab_size=t["vocab_size"],
        d_model=t["d_model"],
        d_kv=t["d_kv"],
        d_ff=t["d_ff"],
        num_layers=t["num_layers"],
        num_decoder_layers=t["num_layers"],
        num_heads=t["num_heads"],
        relative_attention_num_buckets=t["relative_attention_num_buckets"],
        relative_attention_max_distance=t["relative_attention_max_distance"],
        feed_forward_proj=t["feed_forward_proj"],
        dropout_rate=0.1,
        layer_norm_epsilon=1e-6,
    )
    enc = EncodecConfig(
        target_bandwidths=[bw],
        sampling_rate=FRAME_RATE * hop,
        audio_channels=1,
        normalize=False,
        chunk_length_s=None,
        overlap=None,
        hidden_size=e["hidden_size"],
        num_filters=e["num_filters"],
        num_residual_layers=e["num_residual_layers"],
        upsampling_ratios=list(e["upsampling_ratios"]),
        norm_type="weight_norm",
        kernel_size=7,
        last_kernel_size=7,
        residual_kernel_size=3,
        dilation_growth_rate=2,
        use_causal_conv=False,
        pad_mode="reflect",
        compress=2,
        num_lstm_layers=e["num_lstm_layers"],
        trim_right_ratio=1.0,
        codebook_size=e["codebook_size"],
        codebook_dim=e["codebook_dim"],
        use_conv_shortcut=False,
    )
    if enc.num_quantizers != e["num_quantizers"]:
        raise AssertionError(f"num_quantizers {enc.num_quantizers} != {e['num_quantizers']}")
    if enc.frame_rate != FRAME_RATE:
        raise AssertionError("frame rate")
    dec = MusicgenDecoderConfig(
        vocab_size=d["vocab_size"],
        max_position_embeddings=2048,
        num_hidden_layers=d["num_hidden_layers"],
        ffn_dim=d["ffn_dim"],
        num_attention_heads=d["num_attention_heads"],
        hidden_size=d["hidden_size"],
        num_codebooks=d["num_codebooks"],
        audio_channels=d["audio_channels"],
        activation_function="gelu",
        dropout=0.1,
        attention_dropout=0.0,
        activation_dropout=0.0,
        layerdrop=0.0,
        scale_embedding=False,
        pad_token_id=d["vocab_size"],
        bos_token_id=d["vocab_size"],
        tie_word_embeddings=False,
    )
    return MusicgenConfig(text_encoder=t5, audio_encoder=enc, decoder=dec)


def delays(shape):
    d = shape["decoder"]
    K = d["num_codebooks"]
    if d["audio_channels"] == 2:
        return [k // 2 for k in range(K)]  # left/right codebooks interleaved, pairs share a delay
    return list(range(K))


# ----------------------------------------------------------------------------------------------
# weights


def init_weights(model, seed):
    """Deterministic, non-trivial weights for every parameter and persistent buffer (so margins
    stand clear and no parameter is trivially 0/1): LayerNorm/RMS-norm weights 1+0.2N, LayerNorm
    biases 0.2N, linears N(0, 1/fan_in), embeddings N(0,1), lm heads x head_scale, weight-norm
    gains ||v|| * U(0.5, 1.5), codebooks N(0,1)."""
    g = torch.Generator().manual_seed(seed)
    head_scale = model._mg_head_scale

    def normal(shape, std=1.0):
        return torch.randn(shape, generator=g, dtype=torch.float64) * std

    def uniform(shape, lo, hi):
        return torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo

    done = set()
    with torch.no_grad():
        params = dict(model.named_parameters(remove_duplicate=True))
        for name in sorted(params):
            p = params[name]
            s = tuple(p.shape)
            if name.endswith("parametrizations.weight.original0"):
                continue  # weight-norm gain: set with its direction below
            if name.endswith("parametrizations.weight.original1"):
                fan_in = s[1] * s[2] if "conv" in name else s[1]
                v = normal(s, 1.0 / math.sqrt(fan_in))
                dims = tuple(range(1, v.dim()))
                gname = name[: -len("original1")] + "original0"
                gain = v.norm(dim=dims, keepdim=True) * uniform(params[gname].shape, 0.5, 1.5)
                p.copy_(v.to(p.dtype))
                params[gname].copy_(gain.to(p.dtype))
                done.update([name, gname])
                continue
            last = name.rsplit(".", 1)[-1]
            if "layer_norm" in name or name.endswith("final_layer_norm.weight"):
                val = 1.0 + normal(s, 0.2) if last == "weight" else normal(s, 0.2)
            elif name.startswith("text_encoder."):
                if "relative_attention_bias" in name:
                    val = normal(s, 1.0)
                elif name.endswith("shared.weight") or "embed_tokens" in name:
                    val = normal(s, 1.0)
                elif name.endswith("SelfAttention.q.weight"):
                    d_kv = model.config.text_encoder.d_kv
                    val = normal(s, 1.0 / math.sqrt(s[1] * d_kv))
                else:
                    val = normal(s, 1.0 / math.sqrt(s[1]))
            elif name.startswith("enc_to_dec_proj."):
                val = normal(s, 1.0 / math.sqrt(s[1])) if last == "weight" else normal(s, 0.2)
            elif name.startswith("decoder."):
                if "embed_tokens" in name:
                    val = normal(s, 1.0)
                elif "lm_heads" in name:
                    val = normal(s, head_scale / math.sqrt(s[1]))
                else:
                    val = normal(s, 1.0 / math.sqrt(s[1]))
            elif name.startswith("audio_encoder."):
                if ".lstm." in name:
                    h = s[-1] if "weight_hh" in name else (s[0] // 4)
                    val = uniform(s, -1.0, 1.0) * (1.5 / math.sqrt(h))
                elif last == "bias":
                    val = normal(s, 0.1)
                else:
                    raise AssertionError(f"unhandled audio parameter {name}")
            else:
                raise AssertionError(f"unhandled parameter {name}")
            p.copy_(val.to(p.dtype))
            done.add(name)
        missing = set(params) - done
        if missing:
            raise AssertionError(f"parameters not initialised: {sorted(missing)}")
        for name, b in model.named_buffers():
            if ".codebook.embed" in name and name.endswith(".embed"):
                b.copy_(normal(tuple(b.shape), 1.0).to(b.dtype))
        for name, b in model.named_buffers():
            if name.endswith(".codebook.embed_avg"):
                b.copy_(model.get_buffer(name[: -len("_avg")]))
            elif name.endswith(".codebook.cluster_size"):
                b.fill_(1.0)
            elif name.endswith(".codebook.inited"):
                b.fill_(1.0)


# ----------------------------------------------------------------------------------------------
# checkpoint layout

WN_V5 = (".parametrizations.weight.original0", ".parametrizations.weight.original1")
WN_LEGACY = (".weight_g", ".weight_v")
POS_KEY = "decoder.model.decoder.embed_positions.weights"


def rewrite_legacy(path, model):
    """Turn transformers 5's save_pretrained output into the layout of the published checkpoints
    (written by transformers 4.x): weight norm as weight_g/weight_v, and the sinusoid table
    embed_positions.weights (a non-persistent buffer in transformers 5) stored."""
    sd = load_file(path)
    out = {}
    for k, v in sd.items():
        for a, b in zip(WN_V5, WN_LEGACY):
            if k.endswith(a):
                k = k[: -len(a)] + b
        out[k] = v
    out[POS_KEY] = model.decoder.model.decoder.embed_positions.weights.detach().to(torch.float32).contiguous()
    save_file(out, path, metadata={"format": "pt"})


def canonical(k):
    for a, b in zip(WN_LEGACY, WN_V5):
        if k.endswith(a):
            return k[: -len(a)] + b
    return k


# ----------------------------------------------------------------------------------------------
# running transformers


class Hooks:
    def __init__(self):
        self.handles = []

    def fwd(self, module, fn):
        self.handles.append(module.register_forward_hook(fn))

    def pre(self, module, fn):
        self.handles.append(module.register_forward_pre_hook(fn))

    def close(self):
        for h in self.handles:
            h.remove()
        self.handles = []


def _t(x):
    return x[0] if isinstance(x, tuple) else x


def teacher_forced(model, ids, mask, dec_ids, K):
    """One forward of MusicgenForConditionalGeneration with hooks on every hook site."""
    dec = model.decoder.model.decoder
    acts = {}
    hk = Hooks()

    def keep(name, pre):
        def f(m, inp, out=None):
            acts[name] = (_t(inp) if pre else _t(out)).detach().clone()

        return f

    hk.pre(dec.layers[0], keep("embeds", True))
    for i, layer in enumerate(dec.layers):
        hk.pre(layer.self_attn.out_proj, keep(f"layer{i}.self_attn_heads", True))
        hk.fwd(layer.self_attn.out_proj, lambda m, a, o, n=f"layer{i}.self_attn_out_proj": acts.__setitem__(n, o.detach().clone()))
        hk.pre(layer.encoder_attn.out_proj, keep(f"layer{i}.cross_attn_heads", True))
        hk.fwd(layer.encoder_attn.out_proj, lambda m, a, o, n=f"layer{i}.cross_attn_out_proj": acts.__setitem__(n, o.detach().clone()))
        hk.fwd(layer.fc2, lambda m, a, o, n=f"layer{i}.fc2": acts.__setitem__(n, o.detach().clone()))
        hk.fwd(layer, lambda m, a, o, n=f"layer{i}.output": acts.__setitem__(n, _t(o).detach().clone()))
    hk.fwd(dec.layer_norm, lambda m, a, o: acts.__setitem__("final_norm", o.detach().clone()))
    try:
        B, _, S = dec_ids.shape
        with torch.no_grad():
            out = model(
                input_ids=ids,
                attention_mask=mask,
                decoder_input_ids=dec_ids.reshape(B * K, S),
                output_hidden_states=True,
            )
    finally:
        hk.close()
    logits = out.logits.reshape(B, K, S, -1)
    return logits, acts, out


def generate(model, ids, mask, shape, hooks=None, margins=True):
    """Greedy CFG generation through MusicgenForConditionalGeneration.generate. Returns the codes
    given to the audio decoder [B,K,T], the raw grid after apply_delay_pattern_mask [B,K,T+D+1],
    the audio, the guided scores of every step and the min top1-top2 gap over the code cells."""
    K = shape["decoder"]["num_codebooks"]
    frames = shape["frames"]
    dl = delays(shape)
    D = max(dl)
    B = ids.shape[0]
    cap = {"decode": []}
    orig_decode = model.audio_encoder.decode
    orig_apply = model.decoder.apply_delay_pattern_mask

    def decode_wrap(audio_codes, *a, **kw):
        cap["decode"].append(audio_codes.detach().clone())
        return orig_decode(audio_codes, *a, **kw)

    def apply_wrap(input_ids, pattern):
        out = orig_apply(input_ids, pattern)
        cap["seq"] = out.detach().clone()
        return out

    model.audio_encoder.decode = decode_wrap
    model.decoder.apply_delay_pattern_mask = apply_wrap
    hk = Hooks()
    for module, fn in hooks or []:
        hk.fwd(module, fn)
    try:
        with torch.no_grad():
            out = model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=False,
                guidance_scale=GUIDANCE,
                max_new_tokens=frames + D,
                return_dict_in_generate=True,
                output_scores=True,
                output_logits=True,
            )
    finally:
        hk.close()
        del model.audio_encoder.decode
        del model.decoder.apply_delay_pattern_mask
    seq = cap["seq"].reshape(B, K, -1)
    if seq.shape[-1] != frames + D + 1:
        raise AssertionError(f"grid width {seq.shape[-1]} != {frames + D + 1}")
    codes = torch.stack([seq[:, k, dl[k] + 1 : dl[k] + 1 + frames] for k in range(K)], 1)
    # the codes the audio decoder got (stereo: left = even codebooks, right = odd, decoded apart)
    if shape["decoder"]["audio_channels"] == 1:
        given = cap["decode"][0][0]
    else:
        given = torch.empty_like(codes)
        given[:, 0::2] = cap["decode"][0][0]
        given[:, 1::2] = cap["decode"][1][0]
    if not torch.equal(given, codes):
        raise AssertionError("codes passed to the audio decoder differ from the reverted grid")
    scores = torch.stack(out.scores, 1).reshape(B, K, frames + D, -1)  # guided, step s -> column s+1
    raw = torch.stack(out.logits, 1)  # [2B*K, steps, V]: conditional rows then unconditional rows
    cond, uncond = raw[: B * K], raw[B * K :]
    cfg_err = (uncond + (cond - uncond) * GUIDANCE - scores.reshape(B * K, frames + D, -1)).abs().max().item()
    margin = math.inf
    argmax_ok = True
    for k in range(K):
        cols = slice(dl[k], dl[k] + frames)  # steps whose prediction lands on a code cell
        sc = scores[:, k, cols]
        top2 = sc.topk(2, dim=-1).values
        margin = min(margin, (top2[..., 0] - top2[..., 1]).min().item())
        argmax_ok &= bool(torch.equal(sc.argmax(-1), seq[:, k, dl[k] + 1 : dl[k] + 1 + frames]))
    return dict(
        codes=codes,
        sequence=seq,
        wav=out.sequences,
        scores=scores,
        margin=margin,
        argmax_matches_grid=argmax_ok,
        cfg_formula_maxabs=cfg_err,
    )


def tokenize(tok, texts):
    enc = tok.encode_batch(texts)
    n = max(len(e.ids) for e in enc)
    ids = torch.zeros(len(texts), n, dtype=torch.long)
    mask = torch.zeros(len(texts), n, dtype=torch.long)
    for b, e in enumerate(enc):
        ids[b, : len(e.ids)] = torch.tensor(e.ids)
        mask[b, : len(e.ids)] = 1
    return ids, mask


def maxabs(a, b):
    return float((a.double() - b.double()).abs().max().item())


# ----------------------------------------------------------------------------------------------
# one shape


def make_shape(out_dir, seed, i, layout, allow_stereo, tok):
    shape = draw_shape(seed, i, allow_stereo)
    d = shape["decoder"]
    K, V, L, H = d["num_codebooks"], d["vocab_size"], d["num_hidden_layers"], d["hidden_size"]
    dl = delays(shape)
    D = max(dl)
    B = shape["batch"]
    if layout == "mixed":
        shape_layout = "v5" if i % 2 == 1 else "legacy"
    else:
        shape_layout = layout
    shape["checkpoint_layout"] = shape_layout

    texts = [PROMPTS[p] for p in shape["prompt_indices"]]
    ids, mask = tokenize(tok, texts)
    lens = mask.sum(1)
    if len(set(lens.tolist())) == 1:
        raise AssertionError("no padded prompt")
    unpadded = [b for b in range(B) if lens[b] == ids.shape[1]]
    padded = [b for b in range(B) if lens[b] < ids.shape[1]]
    u = unpadded[0]

    dirname = os.path.join(out_dir, f"shape{i}")
    attempts = []
    for attempt in range(MAX_ATTEMPTS):
        wseed = _seed_int(seed, "weights", i, attempt)
        if os.path.isdir(dirname):
            shutil.rmtree(dirname)
        torch.manual_seed(wseed)
        config = build_config(shape)
        model = MusicgenForConditionalGeneration(config)
        model._mg_head_scale = shape["head_scale"]
        init_weights(model, wseed)
        model.eval()
        gc = model.generation_config
        # as transformers' convert_musicgen_transformers.py sets it
        gc.decoder_start_token_id = V
        gc.pad_token_id = V
        gc.bos_token_id = V
        gc.max_length = 1500
        gc.do_sample = True
        gc.guidance_scale = GUIDANCE
        model.save_pretrained(dirname)
        st_path = os.path.join(dirname, "model.safetensors")
        if shape_layout == "legacy":
            rewrite_legacy(st_path, model)
        shutil.copyfile(GOLDEN_TOKENIZER, os.path.join(dirname, "tokenizer.json"))

        # everything below is computed from the re-loaded checkpoint
        ref = {k: v.detach().clone() for k, v in model.state_dict().items()}
        del model
        model = MusicgenForConditionalGeneration.from_pretrained(dirname)
        model.eval()
        got = model.state_dict()
        reload_identical = set(got) == set(ref) and all(torch.equal(got[k], v) for k, v in ref.items())
        file_keys = sorted(load_file(st_path).keys())
        if not reload_identical:
            raise AssertionError("from_pretrained did not give back the saved weights")

        # float64 everywhere except the T5 encoder (float32, as HF forces its norms to fp32 anyway);
        # its output is cast up before enc_to_dec_proj.
        model.double()
        model.text_encoder.float()

        def t5_up(m, a, o):
            o.last_hidden_state = o.last_hidden_state.double()
            return o

        t5_hook = model.text_encoder.register_forward_hook(t5_up)
        attn_impl = {
            "decoder": model.config.decoder._attn_implementation,
            "text_encoder": model.config.text_encoder._attn_implementation,
        }

        res = run_all(model, shape, ids, mask, u, padded)
        t5_hook.remove()
        # the whole pipeline again in float32: how far an fp32 implementation may land, and whether
        # every greedy decision survives fp32 rounding
        model.float()
        res32 = run_all(model, shape, ids, mask, u, padded, vec32=res["expected"]["intv.vector"])
        drift, same_ints = {}, True
        for k, v in res["expected"].items():
            w = res32["expected"][k]
            if v.is_floating_point():
                drift[k] = maxabs(v, w)
            else:
                drift[k] = "identical" if torch.equal(v, w) else "DIFFERENT"
                same_ints &= torch.equal(v, w)
        margins = res["margins"]
        min_margin = min(margins.values())
        attempts.append(dict(attempt=attempt, weight_seed=wseed, min_margin=min_margin,
                             fp32_run_same_codes=same_ints))
        if min_margin >= MIN_MARGIN and same_ints:
            break
    else:
        raise RuntimeError(f"shape {i}: no weights with margin >= {MIN_MARGIN} in {MAX_ATTEMPTS} attempts")

    exp = res["expected"]
    exp_path = os.path.join(dirname, "expected.safetensors")
    save_file({k: v.contiguous() for k, v in sorted(exp.items())}, exp_path, metadata={"format": "pt"})
    meta = dict(
        generator="tests/hf_diff/make_hf_fixtures.py",
        seed=seed,
        index=i,
        transformers_version=transformers.__version__,
        torch_version=torch.__version__,
        precision="decoder, enc_to_dec_proj and EnCodec in float64 (weights are the stored fp32 values); "
        "T5 encoder in float32; floats stored as float32, ids/codes int64",
        attn_implementation=attn_impl,
        shape=shape,
        delays=dl,
        guidance_scale=GUIDANCE,
        greedy=True,
        max_new_tokens=shape["frames"] + D,
        special_token_id=V,
        samples_per_frame=int(math.prod(shape["audio_encoder"]["upsampling_ratios"])),
        sampling_rate=FRAME_RATE * int(math.prod(shape["audio_encoder"]["upsampling_ratios"])),
        prompts=texts,
        prompt_lengths=lens.tolist(),
        unpadded_prompts=unpadded,
        padded_prompts=padded,
        intervention=dict(layer=shape["intv_layer"], site="decoder.model.decoder.layers[j].fc2",
                          add_cond_rows=[0], replace_both_rows=[0, B]),
        decoder_lens_k=list(range(1, L)),
        weight_attempts=attempts,
        redrawn=len(attempts) > 1,
        min_greedy_margin=min_margin,
        greedy_margins=margins,
        min_greedy_margin_float32_run=min(res32["margins"].values()),
        fp32_drift=drift,
        checks=res["checks"].values,
        failed_checks=res["checks"].failed,
        warnings=res["checks"].warnings,
        checkpoint_keys=len(file_keys),
        checkpoint_has_positions_table=POS_KEY in file_keys,
        checkpoint_weight_norm_names="weight_g/weight_v" if shape_layout == "legacy"
        else "parametrizations.weight.original0/original1",
        expected_tensors={k: dict(shape=list(v.shape), dtype=str(v.dtype).replace("torch.", ""))
                          for k, v in sorted(exp.items())},
    )
    with open(os.path.join(dirname, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    return meta


class Checks:
    """Cross-checks of the script's own results: value, and whether it is within its tolerance."""

    def __init__(self):
        self.values = {}
        self.failed = []
        self.warnings = []

    def num(self, name, value, tol):
        self.values[name] = value
        if value is None or not (value <= tol):
            self.failed.append(name)

    def true(self, name, ok, warn_only=False):
        ok = bool(ok)
        self.values[name] = ok
        if not ok:
            (self.warnings if warn_only else self.failed).append(name)

    def info(self, name, value):
        self.values[name] = value


def run_all(model, shape, ids, mask, u, padded, vec32=None):
    d = shape["decoder"]
    K, V, L, H = d["num_codebooks"], d["vocab_size"], d["num_hidden_layers"], d["hidden_size"]
    dl = delays(shape)
    D = max(dl)
    B = ids.shape[0]
    frames = shape["frames"]
    dec = model.decoder.model.decoder
    exp = {}
    ck = Checks()
    margins = {}
    f32 = lambda x: x.detach().to(torch.float32).contiguous()  # noqa: E731
    EXACT = 1e-12  # float64 identities

    exp["text.input_ids"] = ids.clone()
    exp["text.attention_mask"] = mask.clone()
    with torch.no_grad():
        t5 = model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        proj = model.enc_to_dec_proj(t5)
    exp["t5.last_hidden_state"] = f32(t5)
    exp["cond.proj_unmasked"] = f32(proj)
    exp["cond.hidden_states"] = f32(proj * mask[..., None])
    exp["cond.mask"] = mask.clone()

    # teacher forcing on random codes in the delay-pattern layout (last step dropped)
    g = torch.Generator().manual_seed(_seed_int(shape["seed"], "tf-codes", shape["index"]))
    T = shape["tf_frames"]
    codes = torch.randint(0, V, (B, K, T), generator=g)
    grid = torch.full((B, K, T + D + 1), V, dtype=torch.long)
    for k in range(K):
        grid[:, k, dl[k] + 1 : dl[k] + 1 + T] = codes[:, k]
    tf_ids = grid[..., :-1].contiguous()
    exp["tf.codes"] = codes
    exp["tf.input_ids"] = tf_ids
    logits, acts, out = teacher_forced(model, ids, mask, tf_ids, K)
    exp["tf.hf.logits"] = f32(logits)
    for name, v in acts.items():
        exp[f"tf.hf.{name}"] = f32(v)
    S = tf_ids.shape[-1]

    with torch.no_grad():
        # the delay pattern HF builds itself (build_delay_pattern_mask) for this grid
        _, pattern = model.decoder.build_delay_pattern_mask(
            torch.full((B * K, 1), V, dtype=torch.long), pad_token_id=V, max_length=T + D + 1)
        pattern = pattern.reshape(B, K, -1)
        ck.true("tf.input_ids layout == HF build_delay_pattern_mask (special cells)",
                torch.equal((pattern == -1), (grid != V) | ((pattern == -1) & (grid == V))) and
                torch.equal(pattern[pattern != -1], grid[pattern != -1]))
        ln = dec.layer_norm
        ck.num("final_norm(layer{L-1}.output) == tf.hf.final_norm",
               maxabs(ln(acts[f"layer{L-1}.output"]), acts["final_norm"]), EXACT)
        heads_err = 0.0
        hd = H // d["num_attention_heads"]
        for i, layer in enumerate(dec.layers):
            for site, mod in (("self_attn", layer.self_attn), ("cross_attn", layer.encoder_attn)):
                w = mod.out_proj.weight
                x = acts[f"layer{i}.{site}_heads"]
                y = acts[f"layer{i}.{site}_out_proj"]
                heads_err = max(heads_err, maxabs(x @ w.T, y))
                summed = sum(x[..., h * hd : (h + 1) * hd] @ w[:, h * hd : (h + 1) * hd].T
                             for h in range(d["num_attention_heads"]))
                heads_err = max(heads_err, maxabs(summed, y))
        ck.num("*_heads @ out_proj.weight.T (and the sum over heads of each slice) == *_out_proj", heads_err, EXACT)
        # residual identities inside every layer
        res_err = 0.0
        prev = acts["embeds"]
        for i in range(L):
            parts = acts[f"layer{i}.self_attn_out_proj"] + acts[f"layer{i}.cross_attn_out_proj"] + acts[f"layer{i}.fc2"]
            res_err = max(res_err, maxabs(prev + parts, acts[f"layer{i}.output"]))
            prev = acts[f"layer{i}.output"]
        ck.num("layer{i}.output == input + self_attn_out_proj + cross_attn_out_proj + fc2", res_err, EXACT)
        hs = out.decoder_hidden_states
        ck.true("output_hidden_states has L+1 entries", hs is not None and len(hs) == L + 1)
        ck.num("output_hidden_states[0] == embeds", maxabs(hs[0], acts["embeds"]), 0.0)
        if L > 1:
            ck.num("output_hidden_states[i+1] == layer{i}.output for i < L-1",
                   max(maxabs(hs[i + 1], acts[f"layer{i}.output"]) for i in range(L - 1)), 0.0)
        ck.num("output_hidden_states[-1] == final_norm (AFTER the final LayerNorm)", maxabs(hs[-1], acts["final_norm"]), 0.0)
        logits_head = torch.stack([h(acts["final_norm"]) for h in model.decoder.lm_heads], 1)
        ck.num("lm_heads(final_norm) == logits", maxabs(logits_head, logits), EXACT)
        # embeddings: sum of the K codebook embeddings + sinusoid (cos half first, f_i = 10000^(-i/(half-1)))
        emb = sum(dec.embed_tokens[k](tf_ids[:, k]) for k in range(K))
        half = H // 2
        f = torch.exp(torch.arange(half, dtype=torch.float32) * -(math.log(10000) / (half - 1)))
        arg = torch.arange(S, dtype=torch.float32)[:, None] * f[None]
        pos = torch.cat([torch.cos(arg), torch.sin(arg)], 1).double()
        ck.num("embeds == sum_k emb_k + sinusoid(float32)", maxabs(emb + pos, acts["embeds"]), EXACT)
        # the same forward with eager attention
        impl = model.config.decoder._attn_implementation
        try:
            model.decoder.set_attn_implementation("eager")
            logits_eager, _, _ = teacher_forced(model, ids, mask, tf_ids, K)
            ck.num(f"tf logits: decoder eager attention vs {impl}", maxabs(logits_eager, logits), 1e-10)
        finally:
            model.decoder.set_attn_implementation(impl)
        dec_out = model.decoder(
            input_ids=tf_ids.reshape(B * K, -1), encoder_hidden_states=proj * mask[..., None],
            encoder_attention_mask=mask,
        ).logits.reshape(B, K, S, -1)
        ck.num("tf logits: decoder called directly == full model", maxabs(dec_out, logits), EXACT)
        # masking: without encoder_attention_mask padded prompts differ (audiocraft semantics)
        dec_nomask = model.decoder(
            input_ids=tf_ids.reshape(B * K, -1), encoder_hidden_states=proj * mask[..., None],
        ).logits.reshape(B, K, S, -1)
        ck.num("tf logits: no encoder mask vs masked, unpadded prompt", maxabs(dec_nomask[u], logits[u]), 1e-10)
        ck.info("tf logits: no encoder mask vs masked, padded prompts (audiocraft vs HF semantics)",
                max(maxabs(dec_nomask[b], logits[b]) for b in padded))
        # each prompt alone (trimmed, no padding) through T5 and the teacher-forced decoder
        t5_err, tf_err = 0.0, 0.0
        for b in range(B):
            n = int(mask[b].sum())
            t5b = model.text_encoder(input_ids=ids[b : b + 1, :n], attention_mask=mask[b : b + 1, :n]).last_hidden_state
            t5_err = max(t5_err, maxabs(t5b[0], t5[b, :n]))
            lb, _, _ = teacher_forced(model, ids[b : b + 1, :n], mask[b : b + 1, :n], tf_ids[b : b + 1], K)
            tf_err = max(tf_err, maxabs(lb[0], logits[b]))
        ck.num("t5 of each prompt alone vs in the padded batch (float32 T5)", t5_err, 1e-4)
        ck.num("tf logits of each prompt alone vs in the padded batch", tf_err, 1e-3)

    # generation
    uncond_ca = {"max": 0.0, "nan": False}

    def uncond_watch(m, a, o):
        x = o[B:]
        uncond_ca["nan"] |= bool(torch.isnan(x).any())
        uncond_ca["max"] = max(uncond_ca["max"], float(x.abs().max()))

    base = generate(model, ids, mask, shape, hooks=[(layer.encoder_attn.out_proj, uncond_watch) for layer in dec.layers])
    ck.num("unconditional rows' cross-attention output during generation (max abs)", uncond_ca["max"], 0.0)
    ck.true("unconditional rows' cross-attention output has no NaN", not uncond_ca["nan"])
    exp["gen.hf.codes"] = base["codes"]
    exp["gen.hf.sequence"] = base["sequence"]
    exp["gen.hf.wav"] = f32(base["wav"])
    margins["gen.hf"] = base["margin"]
    ck.true("gen: argmax(guided scores) == grid at every code cell", base["argmax_matches_grid"])
    ck.num("gen: guided scores == u + 3(c - u) of the raw (float32-cast) logits", base["cfg_formula_maxabs"], 1e-5)
    C = d["audio_channels"]
    hop = int(math.prod(shape["audio_encoder"]["upsampling_ratios"]))
    ck.true("gen: wav shape == [B, channels, frames*hop]", list(base["wav"].shape) == [B, C, frames * hop])
    ck.info("gen: max |guided score|", float(base["scores"].abs().max()))

    # the generated grid fed in one full forward gives the same guided scores (KV cache == full)
    with torch.no_grad():
        grid_in = base["sequence"][..., :-1]
        full = model(
            encoder_outputs=(torch.cat([t5, torch.zeros_like(t5)]),),
            attention_mask=torch.cat([mask, torch.zeros_like(mask)]),
            decoder_input_ids=torch.cat([grid_in, grid_in]).reshape(2 * B * K, -1),
        ).logits.reshape(2 * B, K, grid_in.shape[-1], -1)
        full = full.float()  # HF casts each step's logits to float32 before the CFG processor
        guided = full[B:] + (full[:B] - full[B:]) * GUIDANCE
        err = 0.0
        for k in range(K):
            cols = slice(dl[k], dl[k] + frames)
            err = max(err, maxabs(guided[:, k, cols], base["scores"][:, k, cols]))
        ck.num("gen: step scores (KV cache) vs one full forward on the generated grid", err, 1e-4)

    # each prompt alone (no padding) gives the same codes as in the batch
    for b in range(B):
        n = int(mask[b].sum())
        one = generate(model, ids[b : b + 1, :n], mask[b : b + 1, :n], shape)
        exp[f"gen1.p{b}.codes"] = one["codes"]
        exp[f"gen1.p{b}.sequence"] = one["sequence"]
        margins[f"gen1.p{b}"] = one["margin"]
        kind = "unpadded" if b == u else ("padded" if b in padded else "unpadded")
        ck.true(f"gen1.p{b} codes == gen.hf.codes[{b}] ({kind} prompt alone vs in the batch)",
                torch.equal(one["codes"][0], base["codes"][b]))
        ck.num(f"gen1.p{b} wav vs gen.hf.wav[{b}]", maxabs(one["wav"][0], base["wav"][b]), 1e-6)

    # DecoderLens: only the first k layers, then the final norm and heads
    layers = dec.layers
    for k in range(1, L):
        dec.layers = torch.nn.ModuleList(list(layers)[:k])
        try:
            r = generate(model, ids, mask, shape)
        finally:
            dec.layers = layers
        exp[f"lens.k{k}.hf.codes"] = r["codes"]
        exp[f"lens.k{k}.hf.sequence"] = r["sequence"]
        margins[f"lens.k{k}.hf"] = r["margin"]
        ck.true(f"lens.k{k}: argmax == grid", r["argmax_matches_grid"])

    # interventions on layer j's fc2 output, every position and step
    j = shape["intv_layer"]
    fc2 = dec.layers[j].fc2
    rms = float(acts[f"layer{j}.fc2"].pow(2).mean().sqrt())
    gv = torch.Generator().manual_seed(_seed_int(shape["seed"], "intv-vector", shape["index"]))
    if vec32 is None:  # drawn in the float64 run; the float32 run re-uses it
        vec32 = (torch.randn(H, generator=gv, dtype=torch.float64) * max(1.0, 4.0 * rms)).to(torch.float32)
    vec = vec32.double()
    exp["intv.layer"] = torch.tensor([j], dtype=torch.long)
    exp["intv.vector"] = vec32

    def add_cond(m, a, o):
        o = o.clone()
        o[0] += vec.to(o.dtype)
        return o

    def replace_both(m, a, o):
        o = o.clone()
        o[[0, B]] = vec.to(o.dtype)
        return o

    for name, fn in (("add_cond", add_cond), ("replace_both", replace_both)):
        r = generate(model, ids, mask, shape, hooks=[(fc2, fn)])
        exp[f"intv.{name}.hf.codes"] = r["codes"]
        exp[f"intv.{name}.hf.sequence"] = r["sequence"]
        margins[f"intv.{name}.hf"] = r["margin"]
        ck.true(f"intv.{name}: argmax == grid", r["argmax_matches_grid"])
        ck.true(f"intv.{name}: element 0 codes differ from baseline",
                not torch.equal(r["codes"][0], base["codes"][0]), warn_only=True)
        ck.true(f"intv.{name}: other elements identical to baseline", torch.equal(r["codes"][1:], base["codes"][1:]))

    # standalone EnCodec decode: random codes and very short codes (reflect-pad edge case)
    enc = model.audio_encoder
    Kq = shape["audio_encoder"]["num_quantizers"]
    ge = torch.Generator().manual_seed(_seed_int(shape["seed"], "encodec-codes", shape["index"]))
    rc = torch.randint(0, V, (2, Kq, 10), generator=ge)
    sc = torch.randint(0, V, (1, Kq, 3), generator=ge)
    with torch.no_grad():
        latent = enc.quantizer.decode(rc.transpose(0, 1))
        manual = sum(enc.quantizer.layers[q].codebook.embed[rc[:, q]] for q in range(Kq)).transpose(1, 2)
        ck.num("encodec latent == sum_k codebook_k.embed[codes_k]", maxabs(latent, manual), EXACT)
        exp["encodec.rand.codes"] = rc
        exp["encodec.rand.latent"] = f32(latent)
        exp["encodec.rand.wav"] = f32(enc.decode(rc[None], [None]).audio_values)
        exp["encodec.short.codes"] = sc
        exp["encodec.short.wav"] = f32(enc.decode(sc[None], [None]).audio_values)
        ck.true("encodec.rand.wav length == T*hop", exp["encodec.rand.wav"].shape[-1] == 10 * hop)
    return dict(expected=exp, checks=ck, margins=margins)


def check_golden(gdir):
    """Recompute the `*.hf.*` entries of a golden fixture written with transformers 4.43.4 (e.g.
    tests/golden/tiny) with the transformers installed here, the same way this script makes its
    fixtures; print the differences. Exit status 1 if any code differs or a float is far off."""
    exp = load_file(os.path.join(gdir, "expected.safetensors"))
    meta = json.load(open(os.path.join(gdir, "expected_meta.json")))
    model = MusicgenForConditionalGeneration.from_pretrained(gdir)
    model.eval()
    model.double()
    model.text_encoder.float()
    model.text_encoder.register_forward_hook(
        lambda m, a, o: setattr(o, "last_hidden_state", o.last_hidden_state.double()) or o)
    cfg = model.config.decoder
    K, V, L = cfg.num_codebooks, cfg.vocab_size, cfg.num_hidden_layers
    shape = dict(decoder=dict(num_codebooks=K, audio_channels=cfg.audio_channels),
                 frames=exp["gen.hf.codes"].shape[-1])
    ids, mask = exp["text.input_ids"], exp["text.attention_mask"]
    B = ids.shape[0]
    rows = []

    def cmp(name, got):
        want = exp[name]
        if want.is_floating_point():
            d = maxabs(got, want)
            rows.append((name, f"{d:.3g}", d <= 1e-4))
        else:
            same = torch.equal(got.to(want.dtype), want)
            rows.append((name, "identical" if same else "DIFFERENT", same))

    with torch.no_grad():
        t5 = model.text_encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        cmp("t5.last_hidden_state", t5)
        cmp("cond.hidden_states", model.enc_to_dec_proj(t5) * mask[..., None])
    logits, acts, _ = teacher_forced(model, ids, mask, exp["tf.input_ids"], K)
    cmp("tf.hf.logits", logits)
    for name, v in acts.items():
        if f"tf.hf.{name}" in exp:
            cmp(f"tf.hf.{name}", v)
    base = generate(model, ids, mask, shape)
    for f in ("codes", "sequence", "wav"):
        cmp(f"gen.hf.{f}", base[f])
    for b in range(B):
        if f"gen1.p{b}.codes" in exp:
            n = int(mask[b].sum())
            one = generate(model, ids[b : b + 1, :n], mask[b : b + 1, :n], shape)
            cmp(f"gen1.p{b}.codes", one["codes"])
            cmp(f"gen1.p{b}.sequence", one["sequence"])
    dec = model.decoder.model.decoder
    layers = dec.layers
    for k in meta.get("decoder_lens_k", []):
        dec.layers = torch.nn.ModuleList(list(layers)[:k])
        try:
            r = generate(model, ids, mask, shape)
        finally:
            dec.layers = layers
        cmp(f"lens.k{k}.hf.codes", r["codes"])
        cmp(f"lens.k{k}.hf.sequence", r["sequence"])
    iv = meta["intervention"]
    vec = exp["intv.vector"].double()
    both, cond = iv["rows_both"], iv["rows_cond_only"]

    def add(rws):
        def f(m, a, o):
            o = o.clone()
            o[rws] += vec.to(o.dtype)
            return o
        return f

    def rep(rws):
        def f(m, a, o):
            o = o.clone()
            o[rws] = vec.to(o.dtype)
            return o
        return f

    for name, fn in (("add_both", add(both)), ("replace_both", rep(both)), ("add_cond", add(cond))):
        if f"intv.{name}.hf.codes" in exp:
            r = generate(model, ids, mask, shape, hooks=[(layers[iv["layer"]].fc2, fn)])
            cmp(f"intv.{name}.hf.codes", r["codes"])
            cmp(f"intv.{name}.hf.sequence", r["sequence"])
    enc = model.audio_encoder
    with torch.no_grad():
        for nm in ("rand", "short"):
            if f"encodec.{nm}.wav" in exp:
                cmp(f"encodec.{nm}.wav", enc.decode(exp[f"encodec.{nm}.codes"][None], [None]).audio_values)
    n_q = len(enc.quantizer.layers)
    print(f"golden {gdir}: transformers {transformers.__version__}; EnCodec built with {n_q} quantizer layers "
          f"(num_quantizers formula) for a checkpoint with "
          f"{sum(1 for k in load_file(os.path.join(gdir, 'model.safetensors')) if k.endswith('codebook.embed'))}")
    for name, val, ok in rows:
        print(f"  {'ok ' if ok else 'BAD'} {name}: {val}")
    bad = [r[0] for r in rows if not r[2]]
    print(f"{len(rows) - len(bad)} passed, {len(bad)} failed")
    return 1 if bad else 0


# ----------------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out")
    ap.add_argument("--check-golden", metavar="GOLDEN_DIR",
                    help="instead: recompute the *.hf.* entries of a transformers-4.43.4 golden fixture "
                         "(e.g. tests/golden/tiny) with the installed transformers and compare")
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1234)
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
    tok = Tokenizer.from_file(GOLDEN_TOKENIZER)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    summary = []
    for i in range(args.first, args.first + args.count):
        t1 = time.time()
        m = make_shape(args.out, args.seed, i, args.layout, not args.no_stereo, tok)
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
        summary.append(bad)
    print(f"total {time.time() - t0:.1f}s", flush=True)
    return 1 if any(summary) else 0


if __name__ == "__main__":
    sys.exit(main())
