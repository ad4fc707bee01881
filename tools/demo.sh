#!/usr/bin/env bash
# The demo: the whole pipeline on a tiny random MusicGen with the built-in demo
# classifier -- a random model in the Hugging Face layout, one generation with an
# intervention, then jobs/demo.toml (baseline + means, DecoderLens, interventions,
# extremes) into results/demo.h5, and its report (figures, tables, audio) into
# results/demo/report. A few minutes on a fresh 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
MG=build/src/mgsweep
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
mkdir -p results/demo
[ -f results/demo/model/model.safetensors ] || $MG make-model --shape tiny --seed 1 --out results/demo/model
$MG generate --model results/demo/model \
  --prompt "Compose a happy rock piece, with a guitar melody. Use a fast tempo." \
  --prompt "Compose a groovy jazz piece, with a piano melody. Use a slow tempo." \
  --duration 2 --seed 7 --patch 'layers.1.mlp:scale=0.5' --out results/demo/generation
$MG run jobs/demo.toml
$MG status results/demo.h5
# The report: the paper's figures with CIs, CSV tables, the extreme cases to listen to.
$MG report results/demo.h5 --out results/demo/report
echo "demo: results/demo.h5 (open it with mgsweep.open_store or h5py), results/demo/generation/*.wav"
echo "demo: the report is results/demo/report/index.html (open it in a browser)"
