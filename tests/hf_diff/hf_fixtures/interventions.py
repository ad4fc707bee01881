"""Interventions: mgsweep's semantics (src/musicgen/hooks.h) written as transformers hooks; the
draws of each intervention of a shape, the hooks that apply one, and its meta.json entry."""

import math

from .common import torch
from .runner import maxabs
from .shapes import _rng, _seed_int


# ----------------------------------------------------------------------------------------------
# interventions (mgsweep's semantics, src/musicgen/hooks.h, written as transformers hooks)

INTERVENTIONS = ["add_cond", "replace_both", "scale", "zero", "adjust"]
INTV_ATTEMPTS = 12  # draws per intervention; then the weights are re-drawn (110 seeds x 4 shapes: <= 8 draws, once none in 12)
SITE_MODULE = {"self_attn": "self_attn", "cross_attn": "encoder_attn"}
SITE_ACTS = {"self_attn": "self_attn_out_proj", "cross_attn": "cross_attn_out_proj", "mlp": "fc2"}


def draw_intervention(shape, name, attempt, acts, B, steps):
    """Intervention `name` of a shape, draw `attempt`: a pure function of (seed, index, name,
    attempt). Later draws push harder (grow) and move to another site, so that a draw that leaves
    the codes unchanged is followed by one that changes them. Values are float32 numbers (the C++
    run reads them as stored).

      add_cond      mlp, + v on the conditional row of element 0, every step
      replace_both  mlp, := v on both rows of element 0, every step
      scale         self_attn | cross_attn | mlp, * factor (|factor| 3..6), random element, maybe both
                    halves, window [t0, t1) with 1 <= t0 and t1 < steps (starts and ends mid-run)
      zero          self_attn | cross_attn | mlp, := 0, same choices as scale
      adjust        ONE head of self_attn | cross_attn, += desired - original with per-step means
                    [steps, head_dim], desired != original, random element, mid-run window
    """
    d = shape["decoder"]
    L, H, nh = d["num_hidden_layers"], d["hidden_size"], d["num_attention_heads"]
    hd = H // nh
    r = _rng(shape["seed"], "intv", shape["index"], name, attempt)
    g = torch.Generator().manual_seed(_seed_int(shape["seed"], "intv-values", shape["index"], name, attempt))
    grow = 1.0 + 0.5 * attempt

    def randn(*size):
        return torch.randn(*size, generator=g, dtype=torch.float64)

    def rms(x):
        return float(x.pow(2).mean().sqrt())

    def window():
        t0 = r.randint(1, max(1, steps // 3))
        return t0, r.randint(max(t0 + 2, steps // 2), steps - 1)

    p = dict(name=name, layer=r.randrange(L), head=-1, row=0, both_halves=False, factor=1.0, t0=0,
             t1=None, desired=None, original=None)
    if name in ("add_cond", "replace_both"):
        p.update(kind="mlp", op="add" if name == "add_cond" else "replace", both_halves=name == "replace_both")
        p["desired"] = randn(H) * max(1.0, 4.0 * rms(acts[f"layer{p['layer']}.fc2"])) * grow
    elif name in ("scale", "zero"):
        p.update(kind=r.choice(["self_attn", "cross_attn", "mlp"]), op=name, row=r.randrange(B),
                 both_halves=r.random() < 0.5)
        if name == "scale":
            p["factor"] = r.choice([-1.0, 1.0]) * r.uniform(3.0, 6.0) * grow
        p["t0"], p["t1"] = window()
        if name == "zero" and attempt >= INTV_ATTEMPTS // 2:
            # zero has no magnitude to grow: late draws take the widest mid-run window, and the
            # conditional row only (guidance then amplifies the change: 3c - 2u)
            p.update(both_halves=False, t0=1, t1=steps - 1)
    elif name == "adjust":
        p.update(kind=r.choice(["self_attn", "cross_attn"]), head=r.randrange(nh), op="adjust",
                 row=r.randrange(B))
        x = acts[f"layer{p['layer']}.{p['kind']}_heads"][..., p["head"] * hd : (p["head"] + 1) * hd]
        scale = max(1.0, 4.0 * rms(x)) * grow
        p["original"] = randn(steps, hd) * max(rms(x), 0.1)
        p["desired"] = p["original"] + randn(steps, hd) * scale
        p["t0"], p["t1"] = window()
    else:
        raise AssertionError(name)
    for key in ("desired", "original"):
        if p[key] is not None:
            p[key] = p[key].to(torch.float32).contiguous()
    p["factor"] = float(torch.tensor(p["factor"], dtype=torch.float32))  # what the C++ gets
    head = f".head.{p['head']}" if p["head"] >= 0 else ""
    p["site"] = f"layers.{p['layer']}.{p['kind']}{head}"
    return p


def intervention_hooks(model, p, B):
    """generate() hooks applying p as mgsweep does: interventions act on rows [row] (+ [B + row]
    with both_halves) of the [2B] CFG batch, at LM steps t0 <= s < t1, on the output of the module
    (self_attn / cross_attn: out_proj; mlp: fc2) or, for a head, on head h's slice of out_proj's
    input. Step s feeds grid column s; it is read from the decoder's KV cache length (0 without a
    cache), not counted, because transformers 5.24 runs the BOS prefill twice (NOTES.md)."""
    layer = model.decoder.model.decoder.layers[p["layer"]]
    rows = [p["row"]] + ([B + p["row"]] if p["both_halves"] else [])
    t1 = math.inf if p["t1"] is None else p["t1"]
    state = {"step": 0}
    hd = model.config.decoder.hidden_size // model.config.decoder.num_attention_heads

    def at_step(v, s):  # [width] or [steps, width] (step s uses row s; past the end the last row)
        return v if v.dim() == 1 else v[min(s, v.shape[0] - 1)]

    def edit(x, s):
        if x.shape[1] != 1:
            raise AssertionError("generate() fed more than one column at once")
        for rw in rows:
            seg = x[rw, 0]
            if p["op"] == "replace":
                seg.copy_(at_step(p["desired"], s).to(seg.dtype))
            elif p["op"] == "add":
                seg.add_(at_step(p["desired"], s).to(seg.dtype))
            elif p["op"] == "adjust":
                seg.add_(at_step(p["desired"], s).to(seg.dtype) - at_step(p["original"], s).to(seg.dtype))
            elif p["op"] == "scale":
                seg.mul_(p["factor"])
            elif p["op"] == "zero":
                seg.zero_()

    def step_hook(m, args, kwargs):
        cache = kwargs.get("cache", kwargs.get("past_key_values"))
        state["step"] = 0 if cache is None else int(cache.get_seq_length())

    def active():
        s = state["step"]
        return s if p["t0"] <= s < t1 else None

    if p["head"] >= 0:
        def pre(m, args):
            s = active()
            if s is None:
                return None
            x = args[0].clone()
            edit(x[..., p["head"] * hd : (p["head"] + 1) * hd], s)
            return (x,) + tuple(args[1:])

        return dict(pre_hooks=[(getattr(layer, SITE_MODULE[p["kind"]]).out_proj, pre)], step_hook=step_hook)

    module = layer.fc2 if p["kind"] == "mlp" else getattr(layer, SITE_MODULE[p["kind"]]).out_proj

    def fwd(m, a, o):
        s = active()
        if s is None:
            return None
        o = o.clone()
        edit(o, s)
        return o

    return dict(hooks=[(module, fwd)], step_hook=step_hook)


def intervention_changes(r, base, p):
    return not torch.equal(r["codes"][p["row"]], base["codes"][p["row"]])


def intervention_meta(p):
    out = {k: (list(v.shape) if isinstance(v, torch.Tensor) else v) for k, v in p.items()}
    if p["desired"] is not None and p["original"] is not None:
        out["max_abs_desired_minus_original"] = maxabs(p["desired"], p["original"])
    return out
