#!/bin/sh
# The PaSST differential test: export hear21passt's PaSST (random weights) with
# tools/export_passt.py, compute reference logits in Python, compare in C++.
#   run_passt_diff.sh PYTHON SCRATCH_DIR TEST_BINARY [GTEST_FILTER]
# Without a filter it makes the export and the reference (make_reference.py); with one it
# runs those C++ tests on them. Exits 77 (CTest: skipped) only when PYTHON lacks hear21passt
# and MGSWEEP_ALLOW_SKIP=1 (make_reference.py; without the opt-out a missing hear21passt fails).
set -eu
python=$1 dir=$2 binary=$3 filter=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "$filter" ]; then
  exec "$python" "$here/make_reference.py" --out "$dir"
fi
for f in passt_random.pt reference.json; do
  [ -f "$dir/$f" ] || { echo "run_passt_diff.sh: $dir/$f is missing (ctest classify_diff.passt_reference makes it)" >&2; exit 1; }
done
MGSWEEP_PASST_TS="$dir/passt_random.pt" MGSWEEP_PASST_REF="$dir/reference.json" \
  exec "$binary" --gtest_filter="$filter"
