"""The per-item checksums of a schema-3 store (README "The store"), recomputed in pure Python
from the stored values: an oracle that shares no code with src/sweep (journal.cpp's CRC-32C,
item_checksum.cpp's byte order). Used by tests/faults/integrity_faults.py and
tests/oracle/run_oracle.py.

    from store_checksums import expected_checksums
    expected_checksums("store.h5")   # {"/baseline/checksum": int64 array, ...}
"""
import h5py
import numpy as np


# CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).
def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_TABLE = _crc_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    t = _TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def le(a):
    """The stored bytes of an array: little-endian, row-major."""
    a = np.ascontiguousarray(a)
    return a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


class _Borrowed:
    def __init__(self, f):
        self.f = f

    def __enter__(self):
        return self.f

    def __exit__(self, *exc):
        return False


def expected_checksums(path, crc32c=crc32c):
    """{dataset: int64 array} recomputed from the values, as README "The store" defines them.
    crc32c: the CRC-32C function (default: the pure-Python one above; the oracle may pass a
    compiled one, e.g. the `crc32c` package's, for a bigger store)."""
    out = {}
    # An h5py.File the caller has open may be passed (HDF5 refuses a second open of one file
    # with other locking flags in one process).
    with (h5py.File(path, "r", locking=False) if isinstance(path, str) else _Borrowed(path)) as f:
        g = lambda n: f[n][()]  # noqa: E731
        bd = g("/baseline/done")
        C, P = bd.shape
        cs = np.full((C, P), -1, np.int64)
        codes, logits, ndcg = g("/baseline/codes"), g("/baseline/logits"), g("/baseline/ndcg")
        for c in range(C):
            for p in range(P):
                if bd[c, p]:
                    cs[c, p] = crc32c(le(codes[c, p]) + le(logits[c, p]) + le(ndcg[c, p]))
        out["/baseline/checksum"] = cs
        if "/lens/done" in f:
            ld = g("/lens/done")
            codes, logits, ndcg = g("/lens/codes"), g("/lens/logits"), g("/lens/ndcg")
            cs = np.full(ld.shape, -1, np.int64)
            for i in zip(*np.nonzero(ld)):
                cs[i] = crc32c(le(codes[i]) + le(logits[i]) + le(ndcg[i]))
            out["/lens/checksum"] = cs
        if "/interventions/done" in f:
            d = g("/interventions/done")
            v = [g("/interventions/" + n) for n in
                 ("effect", "effect_original", "effect_desired", "precision", "status")]
            ideal, logits = g("/interventions/ideal_precision"), g("/interventions/logits")
            codes = g("/interventions/codes")
            cs = np.full(d.shape, -1, np.int64)
            for i in zip(*np.nonzero(d)):
                b = b"".join(le(x[i]) for x in v) + le(ideal[i[1], i[2]])
                cs[i] = crc32c(b + le(logits[i]) + le(codes[i]))
            out["/interventions/checksum"] = cs
        if "/means/done" in f:
            md = g("/means/done")
            parts = [g(n) for n in ("/means/blocks", "/means/blocks_frame_avg", "/means/heads",
                                    "/means/heads_frame_avg") if n in f]
            out["/means/checksum"] = np.array(
                [crc32c(b"".join(le(x[c]) for x in parts)) if md[c] else -1 for c in range(C)],
                np.int64)
        if "/baseline/self_similarity" in f:
            ss = g("/baseline/self_similarity")
            out["/baseline/self_similarity_checksum"] = np.array(
                [crc32c(le(ss[c])) if bd[c].all() else -1 for c in range(C)], np.int64)
    return out
