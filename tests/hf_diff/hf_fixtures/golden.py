"""--check-golden: recompute the `*.hf.*` entries of a transformers-4.43.4 golden fixture with the
installed transformers and print the differences."""

import json
import os

from .common import MusicgenForConditionalGeneration, load_file, torch, transformers
from .runner import generate, maxabs, teacher_forced


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
