#!/usr/bin/env bash
# A whole sweep item, side by side (issue 10): `mgsweep run` against the paper's Python stack
# (transformers' MusicGen + hear21passt's PaSST) on the same random musicgen-small checkpoint,
# in one run, so that both see the same machine state. See bench/bench_item.py.
#   [BUILD_DIR=build] bench/run_item_bench.sh [--quick] [bench_item.py options, e.g. --greedy]
# Full: 4 s, batch 16. --quick: 1 s, batch 4, to try it. The checkpoint and the PaSST file
# (random weights, seed 0, exported for the clip length) are made once, in BUILD_DIR/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=4 BATCH=16
if [ "${1:-}" = "--quick" ]; then SECS=1 BATCH=4; shift; fi
BUILD=${BUILD_DIR:-build}
PY=.venv/bin/python
MODEL=$BUILD/bench/model_small
PASST=$BUILD/bench/passt_${SECS}s.pt  # the file bench/run_classifier_bench.sh makes for 4 s
mkdir -p "$BUILD/bench"
[ -f "$MODEL/model.safetensors" ] ||
  "$BUILD/src/mgsweep" make-model --shape small --seed 1 --out "$MODEL"
[ -f "$PASST" ] ||
  "$PY" tools/export_passt.py --out "$PASST" --random-weights --seed 0 --seconds "$SECS"
uptime
"$PY" bench/bench_item.py --mgsweep "$BUILD/src/mgsweep" --model "$MODEL" --passt "$PASST" \
  --passt-seed 0 --seconds "$SECS" --batch "$BATCH" --work "$BUILD/bench/item" \
  --json "$BUILD/bench/item/item_bench_${SECS}s_b${BATCH}.json" "$@"
uptime
