"""Reference generation: every expected tensor of one model (teacher forcing, generation, each
prompt alone, DecoderLens, interventions, EnCodec decode), with the script's own cross-checks."""

import math

from .common import GUIDANCE, MIN_MARGIN, torch
from .interventions import (
    INTERVENTIONS,
    INTV_ATTEMPTS,
    draw_intervention,
    intervention_changes,
    intervention_hooks,
)
from .runner import generate, maxabs, teacher_forced
from .shapes import _seed_int, delays


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


def run_all(model, shape, ids, mask, u, padded, fixed_intv=None):
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

    # interventions: drawn (and re-drawn until each changes its element's codes) in the float64
    # run; the float32 run re-uses the float64 run's draws
    steps = frames + D
    chosen = []
    all_change = True  # False makes make_shape re-draw the weights (a model no draw can move)
    for name in INTERVENTIONS:
        if fixed_intv is not None:
            p = next(q for q in fixed_intv if q["name"] == name)
            r = generate(model, ids, mask, shape, **intervention_hooks(model, p, B))
        else:
            draws = []
            for attempt in range(INTV_ATTEMPTS):
                p = draw_intervention(shape, name, attempt, acts, B, steps)
                r = generate(model, ids, mask, shape, **intervention_hooks(model, p, B))
                draws.append(dict(site=p["site"], row=p["row"], t0=p["t0"], t1=p["t1"],
                                  changes_codes=intervention_changes(r, base, p), margin=r["margin"]))
                if draws[-1]["changes_codes"] and r["margin"] >= MIN_MARGIN:
                    break
            p["attempts"] = attempt + 1
            p["draws"] = draws  # why earlier draws were rejected (meta.json)
            all_change &= draws[-1]["changes_codes"] and r["margin"] >= MIN_MARGIN
        chosen.append(p)
        row = p["row"]
        exp[f"intv.{name}.hf.codes"] = r["codes"]
        exp[f"intv.{name}.hf.sequence"] = r["sequence"]
        for key in ("desired", "original"):
            if p.get(key) is not None:
                exp[f"intv.{name}.{key}"] = p[key]
        margins[f"intv.{name}.hf"] = r["margin"]
        ck.true(f"intv.{name}: argmax == grid", r["argmax_matches_grid"])
        ck.true(f"intv.{name}: element {row} codes differ from baseline (after {p['attempts']} draws)",
                intervention_changes(r, base, p))
        others = [b for b in range(B) if b != row]
        ck.true(f"intv.{name}: other elements identical to baseline",
                torch.equal(r["codes"][others], base["codes"][others]))
        # step s feeds grid column s and predicts column s+1: columns 0..t0 cannot change
        ck.true(f"intv.{name}: grid columns 0..t0={p['t0']} of element {row} unchanged",
                torch.equal(r["sequence"][row, :, : p["t0"] + 1], base["sequence"][row, :, : p["t0"] + 1]))

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
    return dict(expected=exp, checks=ck, margins=margins, interventions=chosen,
                interventions_change_codes=all_change)
