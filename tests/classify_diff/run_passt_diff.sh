#!/bin/sh
# The PaSST differential test: export hear21passt's PaSST (random weights) with
# tools/export_passt.py, compute reference logits in Python, compare in C++.
#   run_passt_diff.sh PYTHON SCRATCH_DIR TEST_BINARY
# Exits 77 (CTest: skipped) only when PYTHON lacks hear21passt and MGSWEEP_ALLOW_SKIP=1
# (make_reference.py; without the opt-out a missing hear21passt fails).
set -eu
python=$1 dir=$2 binary=$3
here=$(cd "$(dirname "$0")" && pwd)
rc=0
"$python" "$here/make_reference.py" --out "$dir" || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
MGSWEEP_PASST_TS="$dir/passt_random.pt" MGSWEEP_PASST_REF="$dir/reference.json" \
  exec "$binary" --gtest_filter='PasstDiff.*'
