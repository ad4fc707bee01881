"""A synthetic mgsweep store of a paper-sized shape, written with h5py in the store's layout
(src/sweep/plan.cpp: every dataset, its shape and dtype, the root attributes), for measuring
`mgsweep report` and the reader on a full-size store without running the sweep.

    make_synthetic_store.py OUT.h5 [--shape large|medium|small] [--seed S]

large: 10 concepts (Table 1), 100 prompts, replace and adjust, 90 ordered pairs, 3 components
x 48 layers = 144 targets, 527 classes, 200 frames (4 s), 4 codebooks, 48 lens cuts, width
2048. medium: the same with width 1536; small: 24 layers, width 1024.

The scores the report reads (NDCG, self-similarity, effects, precision, ideal precision,
done masks, extremes) are filled with random values of plausible ranges. The bulk that it
never reads -- logits, codes, means (12 GB at the large shape) -- is allocated with its real
shape and dtype (the C++ store checks that every dataset is) but never written, so the file
system keeps it as a hole: the file is 12 GB long and takes about 0.1 GB of disk.
"""

import argparse
import os
import secrets

import h5py
import numpy as np

CONCEPTS = ["guitar", "piano", "trumpet", "violin", "classical", "pop", "jazz", "rock",
            "electronic", "hiphop"]
SLOTS = ["INSTRUMENTS"] * 4 + ["GENRE"] * 6
SHAPES = {"large": (48, 2048), "medium": (48, 1536), "small": (24, 1024)}


def spec_toml(name, layers):
    s = [f'name = "{name}"', 'model = "/nonexistent/musicgen-synthetic"',
         f'store = "{name}.h5"', "num_labels = 527",
         "concepts = [" + ", ".join(f'"{c}"' for c in CONCEPTS) + "]", "",
         "[generation]", "frames = 200", "", "[prompts]", "per_concept = 100", ""]
    for c, slot in zip(CONCEPTS, SLOTS):
        s += [f"[concept.{c}]", f'slot = "{slot}"', f'value = "{c}"', "label = 0",
              "relevant = [0]", ""]
    s += ["[interventions]", 'techniques = ["replace", "adjust"]',
          'components = ["self_attn", "cross_attn", "mlp"]',
          f"layers = [{', '.join(str(i) for i in range(layers))}]", ""]
    return "\n".join(s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shape", choices=list(SHAPES), default="large")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    L, H = SHAPES[a.shape]
    C, P, nT, K, T, N, nK, E = 10, 100, 2, 4, 200, 527, L, 5
    pairs = np.array([(i, j) for i in range(C) for j in range(C) if i != j], dtype=np.int64)
    nQ = len(pairs)
    comps = ["self_attn", "cross_attn", "mlp"]
    targets = [f"layers.{i}.{c}" for i in range(L) for c in comps]
    J, steps = len(targets), T + K - 1
    rng = np.random.default_rng(a.seed)
    str_t = h5py.string_dtype()
    name = f"synthetic_{a.shape}"
    if os.path.exists(a.out):
        os.remove(a.out)
    with h5py.File(a.out, "w", libver="earliest") as f:
        def unwritten(path, shape, dtype, fill):
            # Allocated at creation as the C++ store does (it checks), but never written: the
            # file system keeps the space as a hole.
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
            dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
            f.create_dataset(path, shape=shape, dtype=dtype, fillvalue=fill, dcpl=dcpl)

        # Schema 3 as `mgsweep report` requires; the synthetic values have no checksums (-1,
        # which `mgsweep verify` would report) and no model or classifier behind them.
        f.attrs.update({"schema": "mgsweep.store/3", "mgsweep_store_format": "1",
                        "model_fingerprint": "unknown", "classifier_fingerprint": "unknown",
                        "mgsweep_store_id": secrets.token_hex(16), "spec_hash": "synthetic",
                        "spec_toml": spec_toml(name, L), "created_by": "bench/make_synthetic_store.py"})
        f["_store/generation"] = np.array([1], dtype=np.int64)
        prompts = [f"Compose a prompt {p} for {c}." for c in CONCEPTS for p in range(P)]
        f.create_dataset("prompts", data=np.array(prompts, dtype=object), dtype=str_t)
        f.create_dataset("concepts", data=np.array(CONCEPTS, dtype=object), dtype=str_t)
        f["baseline/done"] = np.ones((C, P), np.uint8)
        unwritten("baseline/codes", (C, P, K, T), np.int16, 0)
        unwritten("baseline/logits", (C, P, N), np.float32, np.nan)
        f["baseline/ndcg"] = rng.uniform(0.2, 0.5, (C, P))
        d = np.abs(np.arange(L)[:, None] - np.arange(L)[None, :]).astype(np.float64)
        f["baseline/self_similarity"] = d[None] * rng.uniform(0.5, 1.5, (C, 1, 1))
        unwritten("means/blocks", (C, J, steps, H), np.float32, np.nan)
        unwritten("means/blocks_frame_avg", (C, J, H), np.float32, np.nan)
        f["means/done"] = np.ones(C, np.uint8)
        f.create_dataset("means/sites", data=np.array(targets, dtype=object), dtype=str_t)
        f["lens/done"] = np.ones((C, P, nK), np.uint8)
        unwritten("lens/codes", (C, P, nK, K, T), np.int16, 0)
        unwritten("lens/logits", (C, P, nK, N), np.float32, np.nan)
        f["lens/ndcg"] = rng.uniform(0.2, 0.5, (C, P, nK))
        f["lens/k"] = np.arange(1, nK + 1, dtype=np.int64)
        ax = (nT, nQ, P, J)
        f["interventions/done"] = np.ones(ax, np.uint8)
        orig = rng.normal(0.6, 1.0, ax)
        des = rng.normal(0.1, 0.5, ax)
        f["interventions/effect"] = orig + des
        f["interventions/effect_original"] = orig
        f["interventions/effect_desired"] = des
        f["interventions/precision"] = -np.abs(rng.normal(0.4, 0.3, ax))
        f["interventions/ideal_precision"] = -np.abs(rng.normal(0.05, 0.02, (nQ, P)))
        f["interventions/status"] = np.zeros(ax, np.uint8)
        unwritten("interventions/logits", ax + (N,), np.float32, np.nan)
        unwritten("interventions/codes", ax + (K, T), np.int16, 0)
        f["interventions/pairs"] = pairs
        f.create_dataset("interventions/targets", data=np.array(targets, dtype=object), dtype=str_t)
        f.create_dataset("interventions/techniques", data=np.array(["replace", "adjust"],
                                                                   dtype=object), dtype=str_t)
        eff = f["interventions/effect"][()]
        order = np.argsort(-eff, axis=3, kind="stable")
        f["extremes/top"] = order[..., :E].astype(np.int64)
        f["extremes/bottom"] = order[..., ::-1][..., :E].astype(np.int64)
        f["extremes/done"] = np.ones(1, np.uint8)
        for path, shape in (("baseline/checksum", (C, P)), ("lens/checksum", (C, P, nK)),
                            ("interventions/checksum", ax), ("means/checksum", (C,)),
                            ("baseline/self_similarity_checksum", (C,))):
            f[path] = np.full(shape, -1, np.int64)
        f["meta/stage_seconds"] = np.zeros(3)
        f["meta/stage_items"] = np.array([C * P, C * P * nK, nT * nQ * P * J], np.int64)
    print(f"{a.out}: {os.path.getsize(a.out) / 1e9:.1f} GB long, "
          f"{os.stat(a.out).st_blocks * 512 / 1e6:.0f} MB on disk, shape {a.shape} "
          f"(C={C}, P={P}, nT={nT}, nQ={nQ}, J={J}, N={N}, T={T}, K={K}, nK={nK}, H={H})")


if __name__ == "__main__":
    main()
