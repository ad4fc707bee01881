#!/usr/bin/env bash
# The demo: a random MusicGen with the tiny shapes, then a short generation with
# an intervention, written to results/demo/. Runs in a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
MG=build/src/mgsweep
mkdir -p results/demo
$MG make-model --shape tiny --seed 1 --out results/demo/model
$MG generate --model results/demo/model \
  --prompt "Compose a happy rock piece, with a guitar melody. Use a fast tempo." \
  --prompt "Compose a groovy jazz piece, with a piano melody. Use a slow tempo." \
  --duration 2 --seed 7 --patch 'layers.1.mlp:scale=0.5' --out results/demo/generation
echo "demo: wrote results/demo/generation (generation.h5 and one WAV per prompt)"
