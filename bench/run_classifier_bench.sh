#!/bin/sh
# PaSST clips/s in C++ (bench_classifier) and in Python (bench_passt_python.py), side by
# side on this machine, for 4-second clips at 32 kHz with random weights.
#   bench/run_classifier_bench.sh [BUILD_DIR] [PYTHON]
# BUILD_DIR defaults to ./build, PYTHON to ./.venv/bin/python. The exported model is cached
# in BUILD_DIR/bench/passt_4s.pt. Thread counts: both sides use PyTorch's default (one per
# core); set OMP_NUM_THREADS to change both.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
python=${2:-$root/.venv/bin/python}
model=$build/bench/passt_4s.pt
mkdir -p "$build/bench"
if [ ! -f "$model" ]; then
  "$python" "$root/tools/export_passt.py" --out "$model" --random-weights --seconds 4
fi
echo "== C++ (LibTorch, TorchScript export)"
MGSWEEP_PASST_TS=$model "$build/bench/bench_classifier" --benchmark_filter='BM_Passt' \
  --benchmark_counters_tabular=true
echo "== Python"
"$python" "$root/bench/bench_passt_python.py" --traced "$model"
