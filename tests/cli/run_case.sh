#!/usr/bin/env bash
# One CLI test of `mgsweep generate` against bad input (registered by tests.cmake):
#   run_case.sh MGSWEEP GOLDEN_DIR SCRATCH_DIR CASE
# Builds a broken copy of the golden checkpoint under SCRATCH_DIR/CASE, runs the binary and
# checks that it exits 2 with exactly ONE line on stderr, "mgsweep: error: ...", that names
# the file and the field (the CASE's expected substrings), and no crash or sanitizer report.
# CASE "success" runs the golden model and checks exit 0 and the output files instead.
set -u
MGSWEEP=$1 GOLDEN=$2 SCRATCH=$3 CASE=$4
export OMP_NUM_THREADS=1
work=$SCRATCH/$CASE
rm -rf "$work"
mkdir -p "$work"
model=$work/model
out=$work/out

setup_fail() { echo "SETUP FAILED: $*" >&2; exit 99; }

copy_golden() {
  mkdir -p "$model"
  cp "$GOLDEN/config.json" "$GOLDEN/tokenizer.json" "$GOLDEN/model.safetensors" "$model/" ||
    setup_fail "cannot copy $GOLDEN"
}

# edit_config SED_EXPR PATTERN: applies SED_EXPR to the copy's config.json; PATTERN must
# match exactly one line before (so that the edit cannot silently miss).
edit_config() {
  [ "$(grep -c -- "$2" "$model/config.json")" = 1 ] || setup_fail "'$2' is not on exactly one line"
  sed -i -e "$1" "$model/config.json" || setup_fail "sed $1"
  ! cmp -s "$GOLDEN/config.json" "$model/config.json" || setup_fail "sed $1 changed nothing"
}

args=(generate --model "$model" --prompt "x" --frames 2 --out "$out")
expect_rc=2
expect=()  # substrings the error line must contain

case $CASE in
  config_not_json)
    copy_golden; printf '{ "text_encoder": ' > "$model/config.json"
    expect=("$model/config.json" "not valid JSON") ;;
  config_missing)
    copy_golden; rm "$model/config.json"
    expect=("$model/config.json" "cannot open") ;;
  config_missing_section)
    copy_golden; printf '{"text_encoder": {}, "decoder": {}}' > "$model/config.json"
    expect=("$model/config.json" "text_encoder.vocab_size" "missing") ;;
  config_missing_field)
    copy_golden; edit_config '/"ffn_dim": 128,/d' '"ffn_dim": 128,'
    expect=("$model/config.json" "decoder.ffn_dim" "missing") ;;
  config_wrong_type)
    copy_golden; edit_config 's/"num_hidden_layers": 3,/"num_hidden_layers": "3",/' '"num_hidden_layers": 3,'
    expect=("$model/config.json" "decoder.num_hidden_layers" "not an integer") ;;
  config_negative)
    copy_golden; edit_config 's/"codebook_size": 64,/"codebook_size": -64,/' '"codebook_size": 64,'
    expect=("$model/config.json" "audio_encoder.codebook_size" "positive") ;;
  config_heads)
    copy_golden; edit_config 's/"num_attention_heads": 4,/"num_attention_heads": 3,/' '"num_attention_heads": 4,'
    expect=("$model/config.json" "decoder.num_attention_heads" "hidden_size") ;;
  safetensors_truncated_header)
    copy_golden; head -c 1000 "$GOLDEN/model.safetensors" > "$model/model.safetensors"
    expect=("$model/model.safetensors" "header length") ;;
  safetensors_truncated_data)
    copy_golden; head -c 2000000 "$GOLDEN/model.safetensors" > "$model/model.safetensors"
    expect=("$model/model.safetensors" ".data_offsets" "outside") ;;
  safetensors_empty)
    copy_golden; : > "$model/model.safetensors"
    expect=("$model/model.safetensors" "header length" "shorter than 8 bytes") ;;
  safetensors_garbage)
    copy_golden; printf '\x10\x00\x00\x00\x00\x00\x00\x00{"a": [1, 2, 3]}' > "$model/model.safetensors"
    expect=("$model/model.safetensors" ": a: " "not an object") ;;
  safetensors_missing)
    copy_golden; rm "$model/model.safetensors"
    expect=("$model" "model.safetensors" "neither") ;;
  tokenizer_not_json)
    copy_golden; printf '{"model": {"type": "Unigram", ' > "$model/tokenizer.json"
    expect=("$model/tokenizer.json" "not valid JSON") ;;
  tokenizer_wrong_model)
    copy_golden; printf '{"model": {"type": "BPE", "vocab": {}, "merges": []}}' > "$model/tokenizer.json"
    expect=("$model/tokenizer.json" "model.type" "BPE") ;;
  patch_layer_out_of_range)
    copy_golden; args+=(--patch layers.99.mlp:zero)
    expect=("--patch" "layers.99.mlp" "3 layers") ;;
  patch_nonsense)
    copy_golden; args+=(--patch nonsense)
    expect=("--patch" "nonsense" "OP") ;;
  patch_missing_file)
    copy_golden; args+=(--patch "layers.1.mlp:add=$work/nope.safetensors:vec")
    expect=("--patch" "$work/nope.safetensors" "does not exist") ;;
  dtype_unknown)
    copy_golden; args+=(--dtype float8)
    expect=("--dtype" "float8") ;;
  device_unknown)
    copy_golden; args+=(--device tpu)
    expect=("--device" "tpu") ;;
  # Generation settings the job refuses are refused on the command line too, with the same
  # words (generation_settings.h).
  temperature_zero)
    copy_golden; args+=(--temperature 0)
    expect=("--temperature: 0: " "must be a finite number above 0") ;;
  temperature_nan)
    copy_golden; args+=(--temperature nan)
    expect=("--temperature: nan: " "must be a finite number above 0") ;;
  temperature_inf)
    copy_golden; args+=(--temperature inf)
    expect=("--temperature: inf: " "must be a finite number above 0") ;;
  temperature_negative)
    copy_golden; args+=(--temperature -1)
    expect=("--temperature: -1: " "must be a finite number above 0") ;;
  guidance_nan)
    copy_golden; args+=(--guidance nan)
    expect=("--guidance: nan: " "must be a finite number from 0 to 3.4e38") ;;
  guidance_inf)
    copy_golden; args+=(--guidance inf)
    expect=("--guidance: inf: " "must be a finite number from 0 to 3.4e38") ;;
  guidance_negative)
    copy_golden; args+=(--guidance -1)
    expect=("--guidance: -1: " "must be a finite number from 0 to 3.4e38") ;;
  top_k_negative)
    copy_golden; args+=(--top-k -5)
    expect=("--top-k: -5: " "must be >= 0" "0 turns the top-k filter off") ;;
  seed_negative)
    copy_golden; args+=(--seed -1)
    expect=("--seed: -1: " "must be >= 0") ;;
  seed_not_integer)
    copy_golden; args+=(--seed 12x)
    expect=("--seed: 12x: " "is not an integer") ;;
  seed_too_large)
    copy_golden; args+=(--seed 18446744073709551615)
    expect=("--seed: 18446744073709551615: " "is past the largest seed" "9223372036854775807") ;;
  duration_negative)
    copy_golden; args=(generate --model "$model" --prompt "x" --duration -1 --out "$out")
    expect=("--duration: -1: " "must be a finite number of seconds above 0") ;;
  # Prompts past the text encoder's limit (prompt_limit.h): refused with the count and the limit
  # before T5 runs (a 50,000-word prompt once took 23 GB).
  prompt_too_long_config)
    copy_golden; printf '{"model_max_length": 512, "tokenizer_class": "T5Tokenizer"}' > "$model/tokenizer_config.json"
    args=(generate --model "$model" --prompt "$(printf 'a %.0s' $(seq 600))" --frames 2 --out "$out")
    expect=("--prompt: prompt 0" "has 601 tokens" "the 512 that $model/tokenizer_config.json allows" "shorten the prompt") ;;
  prompt_too_long_default)
    copy_golden
    args=(generate --model "$model" --prompt "x" --prompt "$(printf 'a %.0s' $(seq 600))" --frames 2 --out "$out")
    expect=("--prompt: prompt 1" "has 601 tokens" "the default limit of 512" "shorten the prompt") ;;
  prompt_small_limit)
    copy_golden; printf '{"model_max_length": 4}' > "$model/tokenizer_config.json"
    args=(generate --model "$model" --prompt "a a a a a" --frames 2 --out "$out")
    expect=("--prompt: prompt 0" "has 6 tokens" "the 4 that $model/tokenizer_config.json allows") ;;
  prompt_huge)
    copy_golden; printf '{"model_max_length": 512}' > "$model/tokenizer_config.json"
    args=(generate --model "$model" --prompt "$(printf 'a %.0s' $(seq 50000))" --frames 2 --out "$out")
    expect=("--prompt: prompt 0" "is 100000 bytes" "first 32768 bytes alone are 16385 tokens" "the 512 that") ;;
  tokenizer_config_bad_limit)
    copy_golden; printf '{"model_max_length": "long"}' > "$model/tokenizer_config.json"
    expect=("$model/tokenizer_config.json" "model_max_length" "not a positive integer") ;;
  # A tokenizer with ids past the T5 embedding table (160 rows): refused at load, not by a
  # LibTorch index error.
  tokenizer_vocab_too_large)
    copy_golden
    python3 - "$model/tokenizer.json" <<'PY' || setup_fail "cannot edit tokenizer.json"
import json, sys
p = sys.argv[1]
t = json.load(open(p))
t["model"]["vocab"] += [["▁extra%d" % i, -20.0] for i in range(5)]
json.dump(t, open(p, "w"))
PY
    expect=("$model/tokenizer.json" "model.vocab" "has 165 ids" "the 160 rows") ;;
  model_folder_missing)
    model=$work/does_not_exist
    args=(generate --model "$model" --prompt "x" --frames 2 --out "$out")
    expect=("$model" "is not a folder") ;;
  success)
    model=$GOLDEN
    args=(generate --model "$model" --prompt "a calm piano melody" --greedy --frames 4 --out "$out")
    expect_rc=0 ;;
  *) setup_fail "unknown case $CASE" ;;
esac

"$MGSWEEP" "${args[@]}" > "$work/stdout" 2> "$work/stderr"
rc=$?
echo "command: $MGSWEEP ${args[*]}"
echo "exit code: $rc"
echo "--- stderr:"; cat "$work/stderr"; echo "---"

fail() { echo "FAIL: $*"; exit 1; }
[ "$rc" = "$expect_rc" ] || fail "exit code $rc, expected $expect_rc"
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:|Segmentation fault|core dumped|terminate called|Aborted' "$work/stderr"; then
  fail "crash or sanitizer report on stderr"
fi

if [ "$CASE" = success ]; then
  [ -s "$out/generation.h5" ] || fail "no $out/generation.h5"
  [ -s "$out/prompt_0.wav" ] || fail "no $out/prompt_0.wav"
  grep -q 'error' "$work/stderr" && fail "an error on stderr"
  echo "PASS"; exit 0
fi

lines=$(wc -l < "$work/stderr")
[ "$lines" = 1 ] || fail "stderr has $lines lines, expected exactly one"
line=$(head -n 1 "$work/stderr")
case $line in
  "mgsweep: error: "*) ;;
  *) fail "stderr does not start with 'mgsweep: error: '" ;;
esac
for s in "${expect[@]}"; do
  case $line in
    *"$s"*) ;;
    *) fail "the error does not mention '$s'" ;;
  esac
done
[ -e "$out" ] && fail "wrote $out although the input was bad"
echo "PASS"
