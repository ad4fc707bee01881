#!/usr/bin/env bash
# Coordinator throughput: a large head-level grid with workers that do no model
# work (--null-workers), on many oversubscribed ranks. Prints items/s and bytes
# per item (the coordinator must never limit 1,000 GPUs: goal >= 10,000 items/s),
# and the resume overhead (a second run over the finished store).
#   bench/coordinator_bench.sh [ranks=32]
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS=${1:-32}
DIR=${TMPDIR:-/tmp}/mgsweep_coordbench
mkdir -p "$DIR"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
[ -f "$DIR/model/config.json" ] || build/src/mgsweep make-model --shape tiny --seed 1 --out "$DIR/model" >/dev/null
cat > "$DIR/job.toml" <<TOML
include = ["$PWD/configs/prompt_template.toml", "$PWD/configs/paper_concepts.toml"]
name = "coordbench"
model = "$DIR/model"
store = "$DIR/coordbench.h5"
concepts = ["guitar", "piano", "trumpet", "violin", "classical", "pop", "jazz", "rock", "electronic", "hiphop"]
batch_size = 32
checkpoint_seconds = 10
[classifier]
kind = "demo"
[generation]
frames = 50
device = "cpu"
[prompts]
per_concept = 100
[baseline]
enabled = true
[interventions]
enabled = true
techniques = ["replace", "adjust"]
pairs = "all"
components = ["self_attn", "cross_attn"]
heads = true
layers = "all"
TOML
rm -f "$DIR/coordbench.h5" "$DIR/coordbench.h5.journal"
echo "== fresh run, $RANKS ranks, null workers"
/usr/bin/time -f "wall %e s, max RSS of rank 0 %M KB" \
  mpirun -np "$RANKS" --oversubscribe build/src/mgsweep run "$DIR/job.toml" --null-workers --threads 1 2>&1 | grep -E "^run: [0-9]+ items|wall"
ls -la "$DIR/coordbench.h5"
echo "== resume of the finished store (overhead of reading the done masks)"
/usr/bin/time -f "wall %e s" build/src/mgsweep run "$DIR/job.toml" --null-workers --threads 1 2>&1 | grep -E "^run: [0-9]+ items|wall"
