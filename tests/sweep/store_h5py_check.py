"""Reads a store written by the gtest Store.ReadableWithH5pyWhileAndAfterWriting with h5py
(default options: HDF5 file locking on) and checks every value.

usage: store_h5py_check.py STORE.h5 writing|closed
  writing: the writer is still open; row 2 of /results/f32 and done[2] are only in the
           journal, so the file still holds their fill values.
  closed:  the writer closed (a checkpoint): row 2 and done[2] are in the file.
"""
import math
import sys

import h5py
import numpy as np


def main() -> int:
    path, state = sys.argv[1], sys.argv[2]
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
