#!/usr/bin/env bash
# Builds and runs every test: unit, golden-fixture, differential (against the
# upstream Python code in .venv) and command-line tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d build ] || tools/setup.sh
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
