#!/usr/bin/env bash
# Generation speed of mgsweep and of transformers, on the same random checkpoint,
# in one run (so that both see the same machine state).
#   bench/run_generate_bench.sh [shape=small] [seconds=4] [batches=1,16]
set -euo pipefail
cd "$(dirname "$0")/.."
SHAPE=${1:-small}; SECS=${2:-4}; BATCHES=${3:-1,16}
MODEL=${TMPDIR:-/tmp}/mgsweep_bench_$SHAPE
[ -f "$MODEL/model.safetensors" ] || build/src/mgsweep make-model --shape "$SHAPE" --seed 1 --out "$MODEL"
build/bench/bench_generate --model "$MODEL" --seconds "$SECS" --batches "$BATCHES"
.venv/bin/python bench/bench_generate_hf.py --model "$MODEL" --seconds "$SECS" --batches "$BATCHES"
