"""Means over prompts with seeded 95% bootstrap confidence intervals.

Every mean the report shows is a mean over prompts of per-prompt values (each per-prompt value
itself a mean over whatever else the row averages: pairs, layers, ...). The unit resampled is
the prompt index p: prompt p of every concept together (in a pair a->b, prompt p is prompt p of
a). A row's values v[p] (NaN where nothing of prompt p is done) give:
  mean   = the mean of the finite v[p];  n = how many there are
  CI     = the 2.5th and 97.5th percentiles (numpy's default, linear) of B bootstrap means,
           each the mean of the finite v[p] among P prompt indices drawn with replacement
The draws are the same for every row of a table of one store: B x P indices from
numpy.random.default_rng([seed, crc32(table), crc32(store)]), so a table is reproducible and
its rows are comparable. The bounds are widened to the mean where rounding (all v[p] equal)
would leave it a last bit outside.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np

LEVEL = 0.95


def draws(seed: int, table: str, store: str, P: int, B: int) -> np.ndarray:
    rng = np.random.default_rng([seed, zlib.crc32(table.encode()), zlib.crc32(store.encode())])
    return rng.integers(0, P, size=(B, P))


def mean_ci(values: np.ndarray, idx: np.ndarray, chunk_bytes: int = 1 << 27):
    """values [G, P] -> mean, ci_low, ci_high [G] (float64) and n [G] (int)."""
    v = np.asarray(values, dtype=np.float64)
    G, P = v.shape
    finite = np.isfinite(v)
    n = finite.sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: NaN, by design
        mean = np.nanmean(v, axis=1) if P else np.full(G, np.nan)
        lo, hi = np.full(G, np.nan), np.full(G, np.nan)
        B = idx.shape[0]
        step = max(1, chunk_bytes // max(1, B * P * 8))
        q = [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2]
        for g0 in range(0, G, step):
            rows = v[g0:g0 + step]
            boot = np.nanmean(rows[:, idx], axis=2)  # [g, B]
            lo[g0:g0 + step], hi[g0:g0 + step] = np.nanpercentile(boot, q, axis=1)
    ok = n > 0
    lo[ok] = np.minimum(lo[ok], mean[ok])
    hi[ok] = np.maximum(hi[ok], mean[ok])
    return mean, lo, hi, n
