"""Shapes: random model shapes drawn as a pure function of (seed, index), their transformers
configs (MusicgenConfig of T5, EnCodec and decoder) and the codebook delay pattern."""

import hashlib
import math
import random

from .common import (
    FRAME_RATE,
    PROMPTS,
    EncodecConfig,
    MusicgenConfig,
    MusicgenDecoderConfig,
    T5Config,
)


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
    the K=4 shape of a block is stereo (2 x 2 codebooks) with 3 or 4 layers (so DecoderLens has at
    least two cuts on a stereo model) unless allow_stereo is false; one shape of the block (the
    "wide" one) has a decoder head_dim of 16 or 32 and a T5 d_kv of 16, the widths the AVX-512
    decode-attention kernel takes (src/kernels/decode_attention.h: multiples of 16), where the
    others draw 4..16 (mostly the generic path). Odd shapes use a gated-gelu (T5 v1.1) text
    encoder, even ones relu (t5-base) with heads*d_kv != d_model."""
    r = _rng(seed, "shape", i)
    blk = _rng(seed, "block", i // 4)
    depths = [1, 2, 3, 4]
    blk.shuffle(depths)
    ks = [1, 2, 4, 8]
    blk.shuffle(ks)
    stereo_slot = ks.index(4)
    want = blk.choice([3, 4])
    if allow_stereo and depths[stereo_slot] < 3:
        j = depths.index(want)
        depths[stereo_slot], depths[j] = depths[j], depths[stereo_slot]
    wide = blk.randrange(4) == i % 4
    K = ks[i % 4]
    stereo = bool(allow_stereo and K == 4)

    # decoder
    L = depths[i % 4]
    if wide:
        head_dim = r.choice([16, 32])
        heads = r.choice([1, 2, 4] if head_dim == 32 else [1, 2, 4, 8])
    else:
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
    d_kv = 16 if wide else r.randint(4, 16)
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
        wide_heads=wide,
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
