"""Lazily read store datasets for xarray: a slice is read from the HDF5 file only when asked
for, the journal's newer records are laid over it, and items whose done flag is 0 come back
as missing values (NaN, or -1 for integer data such as codes).

xarray's documented backend interface (BackendArray + LazilyIndexedArray) does the indexing
bookkeeping; we only answer basic (integer and slice) keys.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from xarray.core import indexing


def _region(key: tuple, shape: tuple[int, ...]):
    """Bounding box [lo, hi) per dimension of a basic key, and the key local to that box."""
    lo, hi, local = [], [], []
    for k, n in zip(key, shape):
        if isinstance(k, (int, np.integer)):
            k = int(k) + (n if k < 0 else 0)
            lo.append(k), hi.append(k + 1), local.append(0)
            continue
        r = range(*k.indices(n))
        if len(r) == 0:
            lo.append(0), hi.append(0), local.append(slice(0, 0))
            continue
        a, b = min(r[0], r[-1]), max(r[0], r[-1]) + 1
        lo.append(a), hi.append(b)
        stop = r[-1] - a + (1 if r.step > 0 else -1)
        local.append(slice(r[0] - a, stop if stop >= 0 else None, r.step))
    return lo, hi, tuple(local)


class H5Source:
    """One numeric dataset of the store: the file's bytes with the journal's records over them."""

    def __init__(self, dataset, records=()):
        self.ds = dataset
        self.shape = tuple(dataset.shape)
        self.dtype = dataset.dtype
        self._records = list(records)
        self._arrays = None  # the records' payloads as arrays, made on the first read

    def _record_arrays(self):
        if self._arrays is None:
            dt = self.dtype.newbyteorder("=")
            self._arrays = [(r.offset, np.frombuffer(r.payload, dtype=dt).reshape(r.count))
                            for r in self._records]
        return self._arrays

    def read(self, key: tuple) -> np.ndarray:
        key = tuple(key) + (slice(None),) * (len(self.shape) - len(key))
        lo, hi, local = _region(key, self.shape)
        if any(h <= l for l, h in zip(lo, hi)):
            box = np.empty([h - l for l, h in zip(lo, hi)], dtype=self.dtype)
        else:
            box = self.ds[tuple(slice(l, h) for l, h in zip(lo, hi))]
            if not isinstance(box, np.ndarray):
                box = np.asarray(box)
            for off, arr in self._record_arrays():
                a = [max(l, o) for l, o in zip(lo, off)]
                b = [min(h, o + c) for h, o, c in zip(hi, off, arr.shape)]
                if any(y <= x for x, y in zip(a, b)):
                    continue
                box[tuple(slice(x - l, y - l) for x, y, l in zip(a, b, lo))] = \
                    arr[tuple(slice(x - o, y - o) for x, y, o in zip(a, b, off))]
        return box[local]


class MaskedSource:
    """`data` with missing values where `done` (over its leading dimensions) is 0."""

    def __init__(self, data, done, fill):
        self.data, self.done, self.fill = data, done, fill
        self.shape, self.dtype = data.shape, data.dtype
        self.lead = len(done.shape)

    def read(self, key: tuple) -> np.ndarray:
        key = tuple(key) + (slice(None),) * (len(self.shape) - len(key))
        out = np.array(self.data.read(key), copy=True)
        done = np.asarray(self.done.read(key[:self.lead]))
        kept_trailing = sum(not isinstance(k, (int, np.integer)) for k in key[self.lead:])
        mask = done.reshape(done.shape + (1,) * kept_trailing) == 0
        out[np.broadcast_to(mask, out.shape)] = self.fill
        return out


class ArraySource:
    """An in-memory array behind the same interface (small derived masks)."""

    def __init__(self, array: np.ndarray):
        self.array = array
        self.shape, self.dtype = array.shape, array.dtype

    def read(self, key: tuple) -> np.ndarray:
        return self.array[tuple(key)]


class _Backend(xr.backends.BackendArray):
    def __init__(self, source):
        self.source = source
        self.shape = source.shape
        self.dtype = source.dtype

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC,
                                                  self._raw)

    def _raw(self, key):
        return self.source.read(tuple(key))


def variable(dims, source, attrs=None) -> xr.Variable:
    """A lazily indexed xarray Variable over `source` (nothing is read until values are).
    CopyOnWriteArray, as xarray's own backends use: a deep copy (xarray makes them, e.g. in
    `where`) shares the source instead of trying to copy the open file."""
    data = indexing.CopyOnWriteArray(indexing.LazilyIndexedArray(_Backend(source)))
    return xr.Variable(dims, data, attrs=attrs or {})
