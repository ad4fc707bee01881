#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ (or $FUZZ_BUILD_DIR)
# and runs each for SECONDS (default 60), seeded with real files of the repository (the
# golden fixture, jobs/, configs/, the tests' specs) or files the code itself writes (store
# journals), with a dictionary of the format's keywords. Runs every target even when one finds a bug; exits
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

# job_seed NAME FILE [INCLUDED...]: a fuzz_job_toml input, the job and the files it includes
# (bundled after "#@file NAME" lines), with its paths made to work from the fuzzer's folder:
# it sits in jobs/ beside the repository's configs/ and tests/ (see fuzz_job_toml.cpp).
job_seed() {
  local out=$1 f first=1
  shift
  : > "$out"
  for f in "$@"; do
    [ $first = 1 ] || printf '#@file %s\n' "$(basename "$f")" >> "$out"
    first=0
    sed -e 's#\(\.\./\)*configs/#../configs/#g' -e 's#"MODEL_DIR"#"tests/golden/tiny"#' \
      -e 's#"STORE_PATH"#"results/fuzz.h5"#' "$f" >> "$out"
  done
}

# Journals and store inputs that the store code itself writes (fuzz_store_open.cpp).
seeds=$BUILD/seeds
rm -rf "$seeds"
if [ -x "$BUILD/tests/fuzz/fuzz_store_open" ]; then
  MGSWEEP_FUZZ_WRITE_SEEDS="$seeds" "$BUILD/tests/fuzz/fuzz_store_open" > /dev/null 2>&1
fi

failed=()
for f in "$BUILD"/tests/fuzz/fuzz_*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  [ -z "$FILTER" ] || [[ $name == *"$FILTER"* ]] || continue
  corpus=$BUILD/corpus/$name
  artifacts=$BUILD/artifacts/$name/
  mkdir -p "$corpus" "$artifacts"
  extra=()
  # Inputs that once found a bug (tests/fuzz/regressions/NAME/): run first, every time.
  if [ -d "tests/fuzz/regressions/$name" ]; then cp "tests/fuzz/regressions/$name"/* "$corpus/"; fi
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
    *labels_csv*)
      cp configs/audioset_labels.csv "$corpus/audioset_labels.csv"
      head -n 12 configs/audioset_labels.csv > "$corpus/audioset_head.csv"
      dict "$BUILD/corpus/$name.dict" index mid display_name '\"' '\"\"' , '\x0d\x0a' '\xef\xbb\xbf'
      extra=(-dict="$BUILD/corpus/$name.dict") ;;
    *classifier_meta*)
      # What tools/export_passt.py writes as mgsweep.json (its export()), without and with
      # a labels.csv after the NUL byte.
      meta='{"format": "mgsweep.classifier", "format_version": 1, "model": "hear21passt PaSST logits", "sample_rate": 32000, "input_samples": 128000, "num_classes": 527, "output": "logits", "torch": "2.5.1"}'
      printf '%s' "$meta" > "$corpus/passt_no_labels"
      { printf '%s\0' "$meta"; cat configs/audioset_labels.csv; } > "$corpus/passt_labels"
      { printf '%s\0' "${meta/527/3}"; head -n 4 configs/audioset_labels.csv; } > "$corpus/three"
      dict "$BUILD/corpus/$name.dict" format format_version sample_rate input_samples num_classes \
        output logits mgsweep.classifier index,mid,display_name 9223372036854775807 \
        18446744073709551615 -1 1.5 null true '[]' '{}'
      extra=(-dict="$BUILD/corpus/$name.dict") ;;
    *patch_spec*)
      # The specs of tests/model/patch_spec_test.cpp, for a model of 4 layers and 4 heads
      # (first byte 0x33), and the README's examples.
      i=0
      { grep -oE '"layers[^"]*"' tests/model/patch_spec_test.cpp | tr -d '"'
        printf '%s\n' 'layers.1.mlp:scale=0.5' 'layers.3.self_attn.head.2:zero@10-50' \
          'layers.0.out:add=v.safetensors:vec/both' 'layers.2.self_attn:adjust=m.safetensors:desired:original@1-3'
      } | sort -u | while IFS= read -r spec; do
        printf '\x33%s' "$spec" > "$corpus/spec_$i"
        i=$((i + 1))
      done
      dict "$BUILD/corpus/$name.dict" layers. .self_attn .cross_attn .mlp .out .head. :replace \
        :adjust :add :scale= :zero @ - /both .safetensors 1e308 nan 999999999999
      extra=(-dict="$BUILD/corpus/$name.dict") ;;
    *job_toml*)
      for j in jobs/*.toml configs/*.toml; do job_seed "$corpus/$(basename "$j")" "$j"; done
      # The jobs again with the golden model, so that the checks against a model run too.
      for j in jobs/*.toml; do
        job_seed "$corpus/tiny_$(basename "$j")" "$j"
        sed -i 's#^model = .*#model = "tests/golden/tiny"#' "$corpus/tiny_$(basename "$j")"
      done
      job_seed "$corpus/itest.toml" tests/sweep_integration/job.toml
      for j in tests/sweep/data/*.toml; do
        case $(basename "$j") in
          base.toml) job_seed "$corpus/data_base.toml" "$j" ;;
          cycle_a.toml) job_seed "$corpus/data_cycle.toml" "$j" tests/sweep/data/base.toml \
            tests/sweep/data/cycle_b.toml "$j" ;;
          cycle_b.toml) ;;
          *) job_seed "$corpus/data_$(basename "$j")" "$j" tests/sweep/data/base.toml ;;
        esac
      done
      dict "$BUILD/corpus/$name.dict" include name model store batch_size checkpoint_seconds \
        concepts labels num_labels '[classifier]' kind demo torchscript path fit_length \
        '[generation]' duration frames top_k temperature guidance seed greedy dtype device \
        '[prompts]' template slot_order per_concept '[prompts.vocab]' '[concept.' slot value \
        label relevant outside_vocab '[baseline]' enabled means per_step frame_avg \
        self_similarity '[lens]' layers all '[interventions]' techniques scale_factor pairs \
        components heads windows both_halves '[extremes]' '[slurm]' partition nodes \
        gpus_per_node cpus_per_task mem time account signal_seconds extra_sbatch '#@file ' \
        '../configs/' tests/golden/tiny self_attn cross_attn mlp replace adjust scale zero \
        9223372036854775807 1e300 -0.0 nan inf
      extra=(-dict="$BUILD/corpus/$name.dict") ;;
    *journal*) cp "$seeds"/journal/* "$corpus/" ;;
    *store_open*) cp "$seeds"/store/* "$corpus/" ;;
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
