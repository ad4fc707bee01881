"""Reads a store with h5py (default options: HDF5 file locking on) and checks its values.

usage: store_h5py_check.py STORE.h5 writing|closed
       store_h5py_check.py STORE.h5 crash ITEMS VEC any|values-synced JOURNALED
  writing: (Store.ReadableWithH5pyWhileAndAfterWriting) the writer is still open; row 2 of
           /results/f32 and done[2] are only in the journal, so the file still holds their
           fill values.
  closed:  the writer closed (a checkpoint): row 2 and done[2] are in the file.
  crash:   (StoreCrash.KillAtEveryStepOfCreateAndCheckpoint) a writer of the crash test's
           layout was killed: no item may be flagged done whose values are not f(i), nor hold
           anything but f(i) or the fill. values-synced: killed after the values of a
           checkpoint became durable, before its flags: every item in JOURNALED (comma-
           separated, or -) holds f(i), and at least one of them is not flagged yet.
"""
import math
import sys

import h5py
import numpy as np


def crash_check(path, items, vec, mode, journaled):
    """The crash test's invariants (f(i) as in store_crash_test.cpp)."""
    errors = []
    with h5py.File(path, "r") as f:
        done = f["/done"][()]
        value = f["/result/value"][()]
        vecs = f["/result/vec"][()]
        tag = f["/result/tag"][()]
        code = f["/result/code"][()]
        big = f["/result/big"][()]
    unflagged = 0
    for i in range(items):
        want_value = np.array([i * 0.5, math.sin(i), -float(i)])
        want_vec = (np.arange(vec, dtype=np.float64) + i * 1000).astype(np.float32) * np.float32(0.25)
        has = {
            "value": np.array_equal(value[i], want_value),
            "vec": np.array_equal(vecs[i], want_vec),
            "tag": int(tag[i]) == i * 7 - 3,
            "code": int(code[i]) == (i * 31) % 30000,
            "big": [int(x) for x in big[i]] == [i << 35, -(i * i)],
        }
        fill = {
            "value": bool(np.isnan(value[i]).all()),
            "vec": bool(np.isnan(vecs[i]).all()),
            "tag": int(tag[i]) == -1,
            "code": int(code[i]) == 0,
            "big": not big[i].any(),
        }
        if done[i] == 1:
            lacking = [k for k, ok in has.items() if not ok]
            if lacking:
                errors.append(f"item {i} is done but lacks {lacking} "
                              f"(fill: {[k for k in lacking if fill[k]]})")
        elif done[i] != 0:
            errors.append(f"done[{i}] = {done[i]}")
        else:
            bad = [k for k in has if not has[k] and not fill[k]]
            if bad:
                errors.append(f"item {i} (not done) holds neither f(i) nor the fill in {bad}")
            if i in journaled:
                unflagged += 1
        if mode == "values-synced" and i in journaled and not all(has.values()):
            errors.append(f"journaled item {i}: values not in the file at values-synced")
    if mode == "values-synced" and unflagged == 0:
        errors.append("values-synced: every journaled item is already flagged done")
    return errors


def main() -> int:
    path, state = sys.argv[1], sys.argv[2]
    if state == "crash":
        items, vec, mode = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
        journaled = set() if sys.argv[6] == "-" else {int(x) for x in sys.argv[6].split(",")}
        errors = crash_check(path, items, vec, mode, journaled)
        for e in errors[:20]:
            print("store_h5py_check:", e, file=sys.stderr)
        return 1 if errors else 0
    errors = []

    def check(cond, what):
        if not cond:
            errors.append(what)

    with h5py.File(path, "r") as f:
        f32 = f["/results/f32"]
        check(f32.dtype == np.float32 and f32.shape == (4, 3), f"f32 {f32.dtype} {f32.shape}")
        check(f32.attrs["doc"] == "effect per item", f"doc {f32.attrs.get('doc')!r}")
        m = f32[()]
        rows_written = 3 if state == "closed" else 2
        for r in range(4):
            for c in range(3):
                if r < rows_written:
                    check(m[r, c] == r * 3 + c + 0.5, f"f32[{r},{c}] = {m[r, c]}")
                else:
                    check(math.isnan(m[r, c]), f"f32[{r},{c}] = {m[r, c]}, want NaN")
        check(math.isnan(f32.fillvalue), f"fillvalue {f32.fillvalue}")
        i64 = f["/results/i64"]
        check(i64.dtype == np.int64 and list(i64[()]) == [-7, -6, -3, 2, 9], f"i64 {i64[()]}")
        done = f["/done"]
        want = [1, 1, 1, 0] if state == "closed" else [1, 1, 0, 0]
        check(done.dtype == np.uint8 and list(done[()]) == want, f"done {done[()]}")
        check(f["/scalar"].shape == () and f["/scalar"][()] == 2.5, f"scalar {f['/scalar'][()]}")
        check(f["/i32"].dtype == np.int32 and (f["/i32"][()] == 7).all(), "i32")
        check(f["/i16"].dtype == np.int16 and (f["/i16"][()] == -2).all(), "i16")
        prompts = list(f["/prompts"].asstr()[()])
        check(prompts == ["Compose a happy rock piece", "ünïcødé ♪"], f"prompts {prompts}")
        spec = f.attrs["spec_toml"]
        check(isinstance(spec, str) and spec.startswith('[job]\nname = "h5py"\n')
              and len(spec) == len('[job]\nname = "h5py"\n') + 100000, "spec_toml")
        check(f.attrs["spec_hash"] == "abc123", "spec_hash")
        check(len(f.attrs["mgsweep_store_id"]) == 32, "store id")
        check(f.attrs["mgsweep_store_format"] == "1", "format")
        gen = int(f["/_store/generation"][0])
        check(gen == (2 if state == "closed" else 1), f"generation {gen}")
    for e in errors:
        print("store_h5py_check:", e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
