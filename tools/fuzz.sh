#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ (or $FUZZ_BUILD_DIR)
# and runs each for SECONDS (default 60), seeded with the golden fixture's files, with a
# dictionary of the format's keywords. Runs every target even when one finds a bug; exits
# non-zero if any did (its crash input lands in BUILD/artifacts/NAME/).
#   tools/fuzz.sh [SECONDS] [NAME_FILTER]      e.g. tools/fuzz.sh 60 safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
SECONDS_EACH=${1:-60}
FILTER=${2:-}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
cmake -S . -B "$BUILD" -DMGSWEEP_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

# st_seed FILE HEADER DATA_BYTES: a safetensors file (u64 LE header length, header, zeros).
st_seed() {
  local n=${#2}
  printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x00\\x00\\x00\\x00' $((n & 255)) \
    $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24 & 255)))" > "$1"
  printf '%s' "$2" >> "$1"
  head -c "$3" /dev/zero >> "$1"
}

# dict FILE WORD...: a libFuzzer dictionary of quoted keywords.
dict() {
  local f=$1
  shift
  : > "$f"
  for w in "$@"; do printf '"%s"\n' "$w" >> "$f"; done
}

failed=()
for f in "$BUILD"/tests/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  [ -z "$FILTER" ] || [[ $name == *"$FILTER"* ]] || continue
  corpus=$BUILD/corpus/$name
  artifacts=$BUILD/artifacts/$name/
  mkdir -p "$corpus" "$artifacts"
  extra=()
  case $name in
    *tokenizer*) cp tests/golden/tiny/tokenizer.json "$corpus/" ;;
    *config*)
      cp tests/golden/tiny/config.json "$corpus/"
      dict "$BUILD/corpus/$name.dict" text_encoder decoder audio_encoder vocab_size d_model d_kv \
        d_ff num_layers num_heads hidden_size num_hidden_layers num_attention_heads ffn_dim \
        num_codebooks sampling_rate num_filters upsampling_ratios codebook_size codebook_dim \
        pad_token_id bos_token_id audio_channels feed_forward_proj dense_act_fn is_gated_act \
        gated-gelu gelu_new layer_norm_epsilon relative_attention_num_buckets \
        relative_attention_max_distance trim_right_ratio use_causal_conv pad_mode norm_type \
        max_position_embeddings 2147483647 2147483648 9223372036854775808 1e400 null true
      extra=(-dict="$BUILD/corpus/$name.dict") ;;
    *safetensors*)
      st_seed "$corpus/seed_metadata" '{"__metadata__":{"format":"pt"}}' 0
      st_seed "$corpus/seed_one" '{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}' 24
      st_seed "$corpus/seed_many" '{"__metadata__":{"format":"pt"},"a":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]},"c":{"dtype":"BOOL","shape":[0,5],"data_offsets":[16,16]},"d":{"dtype":"BF16","shape":[1,2,2],"data_offsets":[16,24]},"e":{"dtype":"U8","shape":[3],"data_offsets":[24,27]}}' 27
      # The golden checkpoint's header (real names and shapes; the data section is cut off).
      head -c 24000 tests/golden/tiny/model.safetensors > "$corpus/seed_golden_header"
      dict "$BUILD/corpus/$name.dict" __metadata__ dtype shape data_offsets F64 F32 F16 BF16 I64 \
        I32 I16 I8 U8 BOOL 18446744073709551615 9223372036854775808 4294967296
      extra=(-dict="$BUILD/corpus/$name.dict") ;;
  esac
  echo "fuzz: $name for ${SECONDS_EACH}s"
  log=$BUILD/corpus/$name.log
  if "$f" -max_total_time="$SECONDS_EACH" -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$artifacts" "${extra[@]}" "$corpus" > "$log" 2>&1; then
    grep -E 'DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "$log" || tail -3 "$log"
  else
    echo "fuzz: $name FAILED (see $log, inputs in $artifacts)"
    grep -E 'ERROR|runtime error|Test unit written|SUMMARY' "$log" | head -20 || tail -30 "$log"
    failed+=("$name")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]}"
  exit 1
fi
