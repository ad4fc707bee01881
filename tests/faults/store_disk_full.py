"""The store on a full file system (issue 11; ctest: faults_store_disk_full_*). Each case
mounts a small tmpfs of its own under the scratch folder (root only; without permission to
mount, the case fails saying so, or with MGSWEEP_ALLOW_SKIP=1 exits 77, which ctest reports as
skipped) and unmounts it at the end. tests/faults/store_permission.py uses its helpers.

    store_disk_full.py --mgsweep BIN --scratch DIR CASE

CASE:
  journal  the store fits but its journal runs out of space mid-run: exit 1 (not an abort,
           134), one line "mgsweep: error: ...journal: no space left on the device (... N
           bytes): nothing checkpointed is lost ... run the same command to resume"; after the
           tmpfs grows, the same command resumes, completes and equals the reference
  create   the store itself does not fit: exit 1 (not a segfault in HDF5's cleanup, 139), one
           line naming the store and roughly the space it needs, nothing left behind; after
           the tmpfs grows, the same command completes and equals the reference
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fault_common import Faults  # noqa: E402

SKIP = 77
CASES = ["journal", "create"]


class NoMount(Exception):
    pass


class Tmpfs:
    """A tmpfs of `size` bytes at `where` (made fresh), unmounted on exit."""

    def __init__(self, where, size):
        self.where = where
        self.size = size

    def __enter__(self):
        subprocess.run(["umount", self.where], capture_output=True)  # a run that died
        os.makedirs(self.where, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs",
                            self.where], capture_output=True, text=True)
        if r.returncode != 0:
            raise NoMount(f"cannot mount a tmpfs at {self.where} ({r.stderr.strip()}): these "
                          "tests need root (mount, chattr)")
        return self

    def remount(self, opts):
        subprocess.run(["mount", "-o", "remount," + opts, self.where], check=True)

    def __exit__(self, *exc):
        for name in os.listdir(self.where):
            subprocess.run(["chattr", "-i", os.path.join(self.where, name)], capture_output=True)
        subprocess.run(["umount", self.where], check=False)


def round_up(n, to=4096):
    return (n + to - 1) // to * to


def error_lines(r):
    return [line for line in r.stderr.splitlines() if line.startswith("mgsweep: error")]


def check_one_line_error(f, r, want_rc, must_have, label):
    f.check(r.returncode == want_rc,
            f"{label}: exit {r.returncode}, want {want_rc} (134: abort, 139: segfault)")
    f.check("terminate called" not in r.stderr and "Segmentation" not in r.stderr
            and "signal" not in r.stderr.lower(), f"{label}: no abort or crash report")
    lines = error_lines(r)
    f.check(len(lines) == 1, f"{label}: one 'mgsweep: error' line (got {len(lines)})")
    line = lines[0] if lines else ""
    for want in must_have:
        f.check(want in line, f"{label}: the message says {want!r}")
    for bad in ("corrupt", "move it away", "HDF5", "H5"):
        f.check(bad not in line, f"{label}: the message does not say {bad!r}")
    return line


def case_journal(f):
    ref = f.reference()
    mnt = os.path.join(f.scratch, "mnt")
    # Room for the store and some 48 KiB of journal records, not for the baseline stage's
    # (about 13 KiB an item, 9 items; no checkpoint before the stage ends).
    with Tmpfs(mnt, round_up(os.path.getsize(ref) + 48 * 1024)) as fs:
        store = os.path.join(mnt, "s.h5")
        job = f.job("s.h5", store_dir=mnt,
                    replace={"checkpoint_seconds = 0.5": "checkpoint_seconds = 600"})
        cmd = ["run", job, "--threads", "1"]
        r = f.run(cmd)
        check_one_line_error(f, r, 1, [store + ".journal: no space left on the device",
                                       " bytes", "nothing checkpointed is lost",
                                       "run the same command to resume"], "journal full")
        f.check(f.run(["status", store]).returncode == 0, "the store opens (status) after it")
        fs.remount("size=32m")
        r = f.run(cmd)
        f.check(r.returncode == 0, f"the same command with space resumes and completes "
                f"(exit {r.returncode})")
        f.check("run: resuming" in r.stderr, "it resumed (did not start over)")
        f.check(f.same(ref, store), "the resumed store equals the uninterrupted reference")


def case_create(f):
    ref = f.reference()
    mnt = os.path.join(f.scratch, "mnt")
    size = os.path.getsize(ref)
    with Tmpfs(mnt, round_up(size // 2)) as fs:
        store = os.path.join(mnt, "s.h5")
        cmd = ["run", f.job("s.h5", store_dir=mnt), "--threads", "1"]
        r = f.run(cmd)
        line = check_one_line_error(f, r, 1, [store + ": not enough space to create the store",
                                              "it needs about", "run the same command again"],
                                    "store does not fit")
        f.check(any(str(n) in line for n in range(size, size + 64 * 1024)),
                "the needed size is the store's, roughly (within 64 KiB above)")
        f.check(sorted(os.listdir(mnt)) == [], f"nothing left behind ({os.listdir(mnt)})")
        fs.remount("size=32m")
        r = f.run(cmd)
        f.check(r.returncode == 0, f"with space the same command completes (exit {r.returncode})")
        f.check(f.same(ref, store), "the store equals the uninterrupted reference")


def run_case(args, case_fn, name):
    f = Faults(args.mgsweep, os.path.join(args.scratch, "store_" + name))
    t0 = time.time()
    try:
        case_fn(f)
    except NoMount as e:
        if os.environ.get("MGSWEEP_ALLOW_SKIP") == "1":
            print(f"SKIP: {e} (MGSWEEP_ALLOW_SKIP=1)")
            return SKIP
        print(f"FAIL: {e}; run as root, or set MGSWEEP_ALLOW_SKIP=1 to skip")
        return 1
    finally:
        print(f"{name}: {time.time() - t0:.0f} s")
    return f.finish()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mgsweep", required=True)
    ap.add_argument("--scratch", required=True)
    ap.add_argument("case", choices=CASES)
    args = ap.parse_args()
    return run_case(args, globals()["case_" + args.case], "disk_full_" + args.case)


if __name__ == "__main__":
    sys.exit(main())
