"""Weights and checkpoint layout: deterministic non-trivial initialisation of every parameter,
and the rewrite of transformers 5's save_pretrained output into the legacy (4.x) layout."""

import math

from .common import load_file, save_file, torch


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
