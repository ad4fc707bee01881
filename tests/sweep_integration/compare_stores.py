"""Exit 0 when two mgsweep stores hold the same results, array for array, bit for bit, and
both are complete. Compared generically, so that new datasets and attributes are compared
without a change here: every dataset (dtype, shape, bytes; string datasets by value) and
its attributes, and every root attribute, but for what legitimately differs between two
runs of one job: run metadata (/meta: timings, per-run counts; root created_*: host, ranks,
threads), the store's own bookkeeping (/_store, mgsweep_store_id) and spec_toml (it holds
the store's path; spec_hash covers every setting that changes a result). Every dataset
named `done` must be all ones in both.

    python compare_stores.py A.h5 B.h5
"""
import sys

import h5py
import numpy as np

SKIP_GROUPS = ("meta/", "_store/")
SKIP_ROOT_ATTRS = {"spec_toml", "mgsweep_store_id"}


def plain(v):
    return v.tolist() if isinstance(v, np.ndarray) else v


def read(path):
    data, attrs = {}, {}
    with h5py.File(path, "r", locking=False) as f:
        def visit(name, obj):
            if name.startswith(SKIP_GROUPS):
                return
            attrs[name] = {k: plain(v) for k, v in obj.attrs.items()}
            if isinstance(obj, h5py.Dataset):
                data[name] = obj[()]
        f.visititems(visit)
        attrs["@root"] = {k: plain(v) for k, v in f.attrs.items()
                          if k not in SKIP_ROOT_ATTRS and not k.startswith("created_")}
    return data, attrs


def main():
    a, aa = read(sys.argv[1])
    b, ba = read(sys.argv[2])
    bad = []
    if set(a) != set(b):
        bad.append(f"datasets differ: {sorted(set(a) ^ set(b))}")
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        if x.dtype.kind == "O" or y.dtype.kind == "O":
            same = x.dtype == y.dtype and x.shape == y.shape and list(np.ravel(x)) == list(
                np.ravel(y))
        else:
            same = x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
        if not same:
            bad.append(name)
    for name in sorted(set(aa) | set(ba)):
        if aa.get(name) != ba.get(name):
            keys = sorted(k for k in set(aa.get(name, {})) | set(ba.get(name, {}))
                          if aa.get(name, {}).get(k) != ba.get(name, {}).get(k))
            bad.append(f"attributes of {name}: {keys}")
    for path, d in ((sys.argv[1], a), (sys.argv[2], b)):
        for name, v in d.items():
            if name.rsplit("/", 1)[-1] == "done" and not np.all(v == 1):
                bad.append(f"{name}: not complete in {path}")
    if bad:
        print("stores differ:", ", ".join(bad))
        return 1
    print(f"stores equal: {len(a)} datasets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
