"""Running transformers: forward hooks, one teacher-forced forward with every hook site
captured, greedy CFG generation through generate(), tokenizing, and maxabs."""

import math

from .common import GUIDANCE, torch
from .shapes import delays


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


def generate(model, ids, mask, shape, hooks=None, margins=True, pre_hooks=None, step_hook=None):
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
    for module, fn in pre_hooks or []:
        hk.pre(module, fn)
    if step_hook is not None:  # sees the decoder's keyword arguments (its KV cache)
        hk.handles.append(model.decoder.register_forward_pre_hook(step_hook, with_kwargs=True))
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
