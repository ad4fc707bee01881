#!/usr/bin/env bash
# Time and peak memory of `mgsweep report` (figures, tables, page; no audio: a synthetic
# store has no model to decode with) on synthetic stores of the paper's shapes
# (bench/make_synthetic_store.py), and of open_store alone.
#   bench/report_bench.sh [large|all]     all: the small, medium and large stores in one report
# Writes into build/bench/report/. Not part of CI (a few minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
DIR=build/bench/report
mkdir -p "$DIR"
shapes=(large)
[ "${1:-large}" = all ] && shapes=(small medium large)
stores=()
for s in "${shapes[@]}"; do
  [ -f "$DIR/$s.h5" ] || $PY bench/make_synthetic_store.py "$DIR/$s.h5" --shape "$s"
  stores+=("$DIR/$s.h5")
done
$PY - "${stores[@]}" <<'PYEOF'
import resource, sys, time
t = time.time()
import mgsweep
st = mgsweep.open_store(sys.argv[1])
t_open = time.time() - t
e = st["interventions"].effect.mean(["pair", "prompt"]).values
print(f"open_store: {t_open:.2f} s; effect mean over pairs and prompts: {time.time() - t:.2f} s "
      f"in all; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
PYEOF
rm -rf "$DIR/out"
/usr/bin/time -f "report: %e s wall, %M KiB peak RSS" \
  build/src/mgsweep report "${stores[@]}" --out "$DIR/out" --no-audio
