"""A store that may not be written (issue 11; ctest: faults_store_permission): a finished
store made immutable (chattr +i: EPERM even for root), then its file system remounted
read-only (EROFS). `mgsweep run` exits 2 with one line "...: permission denied opening it for
writing (...)", never "corrupt" or "move it away" (advice that gets good results deleted), and
the files stay byte-identical; `mgsweep status` still reads it; made writable again, the same
command succeeds and the store still equals the reference. Root only (mount, chattr): without
it the test fails saying so, or with MGSWEEP_ALLOW_SKIP=1 exits 77 (skipped).

    store_permission.py --mgsweep BIN --scratch DIR
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fault_common import EXIT_INPUT  # noqa: E402
from store_disk_full import Tmpfs, check_one_line_error, round_up, run_case  # noqa: E402


def case_permission(f):
    ref = f.reference()
    mnt = os.path.join(f.scratch, "mnt")
    with Tmpfs(mnt, round_up(4 * os.path.getsize(ref) + 1024 * 1024)) as fs:
        store = os.path.join(mnt, "s.h5")
        job = f.job("s.h5", store_dir=mnt)
        for suffix in ("", ".journal"):
            with open(ref + suffix, "rb") as a, open(store + suffix, "wb") as b:
                b.write(a.read())
        before = [open(store + s, "rb").read() for s in ("", ".journal")]
        cmd = ["run", job, "--threads", "1"]
        r = subprocess.run(["chattr", "+i", store], capture_output=True, text=True)
        if f.check(r.returncode == 0, f"chattr +i on the store ({r.stderr.strip()})"):
            r = f.run(cmd)
            check_one_line_error(f, r, EXIT_INPUT, [store + ": permission denied opening it "
                                                    "for writing (Operation not permitted)",
                                                    "run the same command again"],
                                 "immutable store")
            subprocess.run(["chattr", "-i", store], check=True)
        fs.remount("ro")
        r = f.run(cmd)
        check_one_line_error(f, r, EXIT_INPUT, [": permission denied opening it for writing "
                                                "(Read-only file system)"], "read-only mount")
        r = f.run(["status", store])
        f.check(r.returncode == 0, "status (read-only) still works on the read-only mount")
        fs.remount("rw")
        after = [open(store + s, "rb").read() for s in ("", ".journal")]
        f.check(after == before, "the store and its journal are byte-identical")
        r = f.run(cmd)
        f.check(r.returncode == 0, f"made writable, the same command succeeds "
                f"(exit {r.returncode})")
        f.check(f.same(ref, store), "and the store still equals the reference")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mgsweep", required=True)
    ap.add_argument("--scratch", required=True)
    args = ap.parse_args()
    return run_case(args, case_permission, "permission")


if __name__ == "__main__":
    sys.exit(main())
