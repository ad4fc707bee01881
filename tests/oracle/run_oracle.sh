#!/bin/sh
# ctest entry of the oracle test (tests.cmake): run_oracle.sh PYTHON MGSWEEP SCRATCH REPO
# A missing Python FAILS with the command that makes it; MGSWEEP_SKIP_ORACLE=1 skips (77), and
# so does the opt-out every differential test honours, MGSWEEP_ALLOW_SKIP=1, when Python is missing.
py="$1"; mgsweep="$2"; scratch="$3"; repo="$4"
if [ "${MGSWEEP_SKIP_ORACLE:-}" = 1 ]; then
  echo "oracle: skipped (MGSWEEP_SKIP_ORACLE=1)"
  exit 77
fi
if [ ! -x "$py" ]; then
  if [ "${MGSWEEP_ALLOW_SKIP:-}" = 1 ]; then
    echo "oracle: skipped: $py does not exist (MGSWEEP_ALLOW_SKIP=1)"
    exit 77
  fi
  echo "oracle: FAIL: $py does not exist. Make it with tools/setup.sh, or:"
  echo "    python3 -m venv .venv && .venv/bin/pip install -r tools/requirements-torch.txt -r tests/requirements-diff.txt"
  echo "(or skip this test explicitly with MGSWEEP_SKIP_ORACLE=1)"
  exit 1
fi
exec "$py" "$(dirname "$0")/run_oracle.py" --mgsweep "$mgsweep" --scratch "$scratch" --repo "$repo" --threads 2
