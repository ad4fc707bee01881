"""Exit 0 when two mgsweep stores hold the same results, array for array, bit for bit.
Run metadata (/meta: timings) and the store's own bookkeeping (/_store) may differ.

    python compare_stores.py A.h5 B.h5
"""
import sys

import h5py
import numpy as np


def arrays(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and not name.startswith(("meta/", "_store/")):
                out[name] = obj[()]
        f.visititems(visit)
        # spec_toml holds the store path, which may differ; the hash covers every result setting.
        attrs = {k: f.attrs[k] for k in ("spec_hash",) if k in f.attrs}
    return out, attrs


def main():
    a, aa = arrays(sys.argv[1])
    b, ba = arrays(sys.argv[2])
    bad = []
    if set(a) != set(b):
        bad.append(f"datasets differ: {sorted(set(a) ^ set(b))}")
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        if x.dtype.kind == "O":
            same = list(x) == list(y)
        else:
            same = x.shape == y.shape and x.tobytes() == y.tobytes()  # NaN-safe, bitwise
        if not same:
            bad.append(name)
    if aa != ba:
        bad.append("spec attributes")
    for name in ("baseline/done", "lens/done", "interventions/done"):
        if name in a and not np.all(a[name] == 1):
            bad.append(f"{name}: not complete in {sys.argv[1]}")
    if bad:
        print("stores differ:", ", ".join(bad))
        return 1
    print(f"stores equal: {len(a)} datasets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
