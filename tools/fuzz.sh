#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs each
# for SECONDS (default 60), seeded with the golden fixture's files.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
cmake -S . -B build-fuzz -DMGSWEEP_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)"
for f in build-fuzz/tests/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus=build-fuzz/corpus/$name
  mkdir -p "$corpus"
  case $name in
    *tokenizer*) cp tests/golden/tiny/tokenizer.json "$corpus/" ;;
    *config*) cp tests/golden/tiny/config.json "$corpus/" ;;
    *safetensors*) head -c 4096 tests/golden/tiny/expected.safetensors > "$corpus/seed" ;;
  esac
  echo "fuzz: $name for ${SECONDS_EACH}s"
  "$f" -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 "$corpus" 2>&1 | tail -3
done
