#!/usr/bin/env bash
# The GPU check of issue 10, in two halves:
#
#   bench/gpu_check.sh --prepare      HERE (a development machine with Debian's apt and PyPI):
#                                     downloads into build-gpu-deps/ what the GPU machine lacks
#                                     (Debian 12 .debs of Open MPI, HDF5, toml++, spdlog, fmt,
#                                     CLI11, nlohmann-json, libsndfile, GoogleTest, Google
#                                     Benchmark, pkgconf and the libraries they load; wheels of
#                                     hear21passt and of the pinned transformers), checks them,
#                                     and prints the device call.
#   bench/gpu_check.sh [--device]     THERE (the lent GPU machine, a copy of this working tree
#                                     with build-gpu-deps/ carried): unpacks the .debs into a
#                                     prefix, builds mgsweep with CUDA against that machine's own
#                                     PyTorch (python3's torch: its LibTorch, CUDA included),
#                                     runs the golden and differential tests (their CUDA variants
#                                     run there), and prints the decoding benchmark against
#                                     transformers on the same GPU in float32, float16 and
#                                     bfloat16 at batch 48, with bench_generate's CUDA probes
#                                     (what CUDA graphs and a fused attention would save).
#   bench/gpu_check.sh --build-only   Either machine, no GPU needed: the device half's unpacking,
#                                     configure and build only (how the device path is tested here).
#   bench/gpu_check.sh --rehearse     Here, no GPU needed: the whole device half with the benchmark
#                                     on the CPU (tiny shape, batch 2, float32 and bfloat16), to
#                                     test the script itself; the CUDA tests skip.
#
# Options (device half, --build-only, --rehearse):
#   --budget S       seconds for the whole device half (default 540: one call of at most 600 s)
#   --jobs N         build jobs (default: all cores)
#   --build-dir D    build folder (default build-gpu)
#   --prefix D       where the .debs are unpacked (default /tmp/mgsweep-gpu-prefix)
#   --python PY      the Python whose torch is linked and that runs transformers (default python3)
#   --torch DIR      a torch package folder (or LibTorch) to link instead of PY's torch
#   --batch N        benchmark batch size (default 48); --seconds S audio per generation (4)
#   --dtypes LIST    benchmark dtypes (default float32,float16,bfloat16)
#   --skip-tests | --skip-bench | --configure-only
# Output: everything goes to stdout; where $OUT is set (the device tool) the log, the ctest
# log and a summary table are also written under it. Exit status: 0 all passed; 1 a test or a
# benchmark failed; 2 usage or a missing preparation; 3 no GPU.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
DEPS=build-gpu-deps
MODE=device
BUDGET=540
JOBS=$(nproc 2>/dev/null || echo 4)
BUILD=build-gpu
PREFIX=/tmp/mgsweep-gpu-prefix
PY=${MGSWEEP_GPU_PYTHON:-python3}
TORCH_DIR=""
BATCH="" SECONDS_AUDIO="" DTYPES=""  # defaults below, after the arguments
SKIP_TESTS=0 SKIP_BENCH=0 CONFIGURE_ONLY=0
BENCH_DEVICE=cuda BENCH_SHAPE=small

# Debian 12 packages: headers, CMake and pkg-config files, and the shared libraries that
# mgsweep and its tests load. Open MPI's MCA plugins' own libraries (UCX, libfabric, verbs,
# PSM) are left out: they are opened only by MPI_Init, which the GPU check never runs.
DEB_PACKAGES=(
  libopenmpi-dev libopenmpi3 openmpi-common libhwloc15 libevent-core-2.1-7
  libevent-pthreads-2.1-7 libpmix2 libmunge2 libudev1
  libhdf5-dev libhdf5-103-1 libsz2 libaec0 libcurl4 libssl3 zlib1g
  libnghttp2-14 librtmp1 libssh2-1 libpsl5 libidn2-0 libunistring2 libgssapi-krb5-2 libkrb5-3
  libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1 libldap-2.5-0 libsasl2-2
  libsasl2-modules-db libdb5.3 libbrotli1 libzstd1 libgnutls30 libnettle8 libhogweed6 libgmp10
  libp11-kit0 libtasn1-6 libffi8
  libtomlplusplus-dev libtomlplusplus3 libspdlog-dev libspdlog1.10 libfmt-dev libfmt9
  libcli11-dev nlohmann-json3-dev
  libsndfile1-dev libsndfile1 libflac12 libflac-dev libvorbis0a libvorbisenc2 libvorbisfile3
  libvorbis-dev libogg0 libogg-dev libopus0 libopus-dev libmpg123-0 libmpg123-dev libout123-0
  libsyn123-0 libmp3lame0
  libgtest-dev libbenchmark-dev libbenchmark1debian
  pkgconf pkgconf-bin libpkgconf3
)
# Wheels for the device's python3 (which has torch, tokenizers, h5py, timm, torchaudio and an
# older transformers): the PaSST oracle of classify_diff.passt, and the transformers that
# tests/requirements-diff.txt pins (its other needs are met there; if it does not import, the
# machine's own transformers is used and the log says so).
WHEELS=(hear21passt==0.0.26 transformers==5.24.0)
# Never brought: the C runtime and compiler runtime must be the machine's own.
BASE_SONAMES='^(ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libresolv\.so\.2|libutil\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|libgomp\.so\.1|libcrypt\.so\.1)$'
CARRY_LIMIT_MIB=64

say() { printf '%s\n' "gpu_check: $*"; }
die() { local rc=$1; shift; printf '%s\n' "gpu_check: error: $*" >&2; exit "$rc"; }
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prepare) MODE=prepare ;;
    --device) MODE=device ;;
    --build-only) MODE=build ;;
    --rehearse) MODE=rehearse ;;
    --configure-only) MODE=build; CONFIGURE_ONLY=1 ;;
    --budget|--jobs|--build-dir|--prefix|--python|--torch|--batch|--seconds|--dtypes)
      [ $# -ge 2 ] && [ -n "$2" ] || die 2 "$1 needs a value (see --help)"
      case "$1" in
        --budget) BUDGET=$2 ;; --jobs) JOBS=$2 ;; --build-dir) BUILD=$2 ;; --prefix) PREFIX=$2 ;;
        --python) PY=$2 ;; --torch) TORCH_DIR=$2 ;; --batch) BATCH=$2 ;;
        --seconds) SECONDS_AUDIO=$2 ;; --dtypes) DTYPES=$2 ;;
      esac
      shift ;;
    --skip-tests) SKIP_TESTS=1 ;;
    --skip-bench) SKIP_BENCH=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die 2 "unknown argument '$1' (see bench/gpu_check.sh --help)" ;;
  esac
  shift
done
if [ "$MODE" = rehearse ]; then
  BENCH_DEVICE=cpu BENCH_SHAPE=tiny
  : "${BATCH:=2}" "${SECONDS_AUDIO:=0.5}" "${DTYPES:=float32,bfloat16}"
else
  : "${BATCH:=48}" "${SECONDS_AUDIO:=4}" "${DTYPES:=float32,float16,bfloat16}"
fi
for v in BUDGET JOBS BATCH; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die 2 "--${v,,} takes a positive integer, not '${!v}'"
done
[[ $SECONDS_AUDIO =~ ^[0-9]+([.][0-9]+)?$ ]] || die 2 "--seconds takes a number, not '$SECONDS_AUDIO'"
for d in ${DTYPES//,/ }; do
  case "$d" in float32|float16|bfloat16) ;; *) die 2 "--dtypes: '$d' is not float32, float16 or bfloat16" ;; esac
done

START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
left() { echo $(( BUDGET - $(elapsed) )); }

# ---------------------------------------------------------------------------------------------
# Preparation (here)
# ---------------------------------------------------------------------------------------------
tree_bytes() {  # what the device tool sends besides the carried folders
  git ls-files -z --cached --others --exclude-standard 2>/dev/null |
    xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}'
}

prepare() {
  command -v apt-get >/dev/null || die 2 "--prepare needs apt-get (a Debian 12 machine)"
  command -v dpkg-deb >/dev/null || die 2 "--prepare needs dpkg-deb"
  . /etc/os-release 2>/dev/null || true
  [ "${VERSION_CODENAME:-}" = bookworm ] ||
    say "warning: this is ${PRETTY_NAME:-not Debian 12}; the package list is Debian 12's"
  rm -rf "$DEPS"
  mkdir -p "$DEPS/debs" "$DEPS/wheels"
  say "downloading ${#DEB_PACKAGES[@]} Debian packages into $DEPS/debs"
  if ! (cd "$DEPS/debs" && apt-get download -q "${DEB_PACKAGES[@]}" >../apt.log 2>&1); then
    sed -n '1,20p' "$DEPS/apt.log" >&2
    die 2 "apt-get download failed (above); run 'apt-get update' first if a package is not found"
  fi
  local pip=""
  for p in .venv/bin/pip pip3; do command -v "$p" >/dev/null && { pip=$p; break; }; done
  [ -n "$pip" ] || die 2 "--prepare needs pip (.venv/bin/pip from tools/setup.sh, or pip3)"
  say "downloading wheels: ${WHEELS[*]}"
  "$pip" download -q --no-deps --only-binary=:all: -d "$DEPS/wheels" "${WHEELS[@]}" ||
    die 2 "pip download of ${WHEELS[*]} failed"

  # Every library a brought library loads is brought too, or is the C/C++ runtime.
  local x
  x=$(mktemp -d)
  for f in "$DEPS"/debs/*.deb; do dpkg-deb -x "$f" "$x"; done
  local needed provided missing
  needed=$(find "$x" -type f -name '*.so*' ! -path '*/openmpi3/*' ! -path '*/pmix2/lib/pmix/*' \
             ! -path '*/hwloc/*' ! -path '*/sasl2/*' ! -name 'libmca_common_*' ! -name 'libmpi_java*' -exec readelf -d {} + 2>/dev/null |
           sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
  provided=$(find "$x" \( -type f -o -type l \) -name '*.so*' -printf '%f\n' | sort -u)
  missing=$(comm -23 <(printf '%s\n' "$needed") <(printf '%s\n' "$provided") | grep -Ev "$BASE_SONAMES")
  local glibc
  glibc=$(find "$x" -type f -name '*.so*' -exec objdump -T {} + 2>/dev/null |
          grep -o 'GLIBC_[0-9.]*' | sort -t. -k1,1 -k2,2n -u | tail -1)
  rm -rf "$x"
  [ -z "$missing" ] || die 2 "libraries loaded by the brought ones but not brought: $(echo $missing)"
  local deps_bytes tree total
  deps_bytes=$(du -sb "$DEPS" | cut -f1)
  tree=$(tree_bytes)
  total=$(( deps_bytes + tree ))
  {
    echo "# bench/gpu_check.sh --prepare, $(date -u +%Y-%m-%dT%H:%MZ)"
    (cd "$DEPS/debs" && for f in *.deb; do dpkg-deb -f "$f" Package Version | paste -sd' '; done)
    (cd "$DEPS/wheels" && ls)
    echo "glibc ${glibc#GLIBC_}"
  } >"$DEPS/MANIFEST"
  say "$(ls "$DEPS"/debs/*.deb | wc -l) .debs, $(ls "$DEPS"/wheels | wc -l) wheel(s): $((deps_bytes >> 20)) MiB; newest glibc symbol they need: ${glibc:-none}"
  say "working tree that travels: $((tree >> 20)) MiB; with $DEPS: $((total >> 20)) MiB of the ${CARRY_LIMIT_MIB} MiB limit"
  [ "$total" -lt $((CARRY_LIMIT_MIB << 20)) ] ||
    die 2 "over the device tool's ${CARRY_LIMIT_MIB} MiB: ignore or remove large untracked files"
  git check-ignore -q "$DEPS" || die 2 "$DEPS/ is not ignored by git; it must travel as a carried path"
  cat <<EOF
gpu_check: ready. On a session with a GPU machine, one call of the device tool's run:
  carry:     ["$DEPS"]
  timeout_s: 600
  command:   bash bench/gpu_check.sh --device
(it prints everything and leaves gpu_check.log, ctest.log and summary.md under \$OUT)
EOF
}

# ---------------------------------------------------------------------------------------------
# Device half
# ---------------------------------------------------------------------------------------------

preflight_gpu() {
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    die 3 "no GPU: nvidia-smi is not on this machine. The device half runs on the lent GPU machine (device tool: run 'bash bench/gpu_check.sh --device' with carry [\"$DEPS\"]); here, use --prepare or --build-only"
  fi
  local gpus
  gpus=$(nvidia-smi -L 2>&1) || die 3 "no GPU: nvidia-smi -L failed: $gpus"
  echo "$gpus" | grep -q '^GPU ' || die 3 "no GPU: nvidia-smi lists none ($gpus)"
  say "$gpus"
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader || true
}

find_torch() {
  command -v "$PY" >/dev/null 2>&1 || die 2 "no Python '$PY' (--python)"
  PY=$(command -v "$PY")
  if [ -z "$TORCH_DIR" ]; then
    TORCH_DIR=$("$PY" -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null) ||
      die 2 "$PY cannot import torch: give --torch DIR (a torch package folder or a LibTorch)"
  fi
  [ -d "$TORCH_DIR/share/cmake/Torch" ] || die 2 "$TORCH_DIR has no share/cmake/Torch (not a torch package or LibTorch)"
  TORCH_VERSION=$(sed -n "s/^__version__ = '\(.*\)'/\1/p" "$TORCH_DIR/version.py" 2>/dev/null)
  [ -f "$TORCH_DIR/build-version" ] && TORCH_VERSION=$(cat "$TORCH_DIR/build-version")
  ls "$TORCH_DIR"/lib/libtorch_cuda.so >/dev/null 2>&1 ||
    die 2 "the torch in $TORCH_DIR (${TORCH_VERSION:-?}) has no libtorch_cuda.so: not a CUDA build"
  say "LibTorch: $TORCH_DIR (${TORCH_VERSION:-version unknown}, with CUDA)"
}

# Unpacks the .debs into $PREFIX (once per machine) and makes $PREFIX/ldpath hold links to
# those of their shared libraries that this machine does not have itself: they are found
# through LD_LIBRARY_PATH, while the machine's own libraries keep precedence for the rest.
unpack_deps() {
  local debs=("$DEPS"/debs/*.deb)
  [ -e "${debs[0]}" ] ||
    die 2 "no $DEPS/debs/*.deb: run 'bench/gpu_check.sh --prepare' on the development machine and carry \"$DEPS\" in the device tool's run"
  # Debian 12's libraries need a glibc at least as new as theirs (libevent: 2.36).
  local need have_glibc
  need=$(sed -n 's/^glibc \([0-9.]*\)$/\1/p' "$DEPS/MANIFEST" 2>/dev/null)
  have_glibc=$(ldd --version 2>/dev/null | head -1 | grep -o '[0-9]*\.[0-9]*$')
  if [ -n "$need" ] && [ -n "$have_glibc" ] &&
     [ "$(printf '%s\n%s\n' "$need" "$have_glibc" | sort -V | head -1)" != "$need" ]; then
    die 2 "this machine's glibc is $have_glibc; the Debian 12 libraries in $DEPS need $need or newer"
  fi
  if [ ! -f "$PREFIX/.unpacked" ] || [ "$PREFIX/.unpacked" -ot "$DEPS/MANIFEST" ]; then
    rm -rf "$PREFIX"
    mkdir -p "$PREFIX"
    for f in "${debs[@]}"; do
      if command -v dpkg-deb >/dev/null 2>&1; then
        dpkg-deb -x "$f" "$PREFIX" || die 2 "cannot unpack $f"
      else  # a .deb is an ar archive of data.tar.*
        local t
        t=$(mktemp -d)
        (cd "$t" && ar x "$ROOT/$f" && tar -xf data.tar.* -C "$PREFIX") || die 2 "cannot unpack $f (no dpkg-deb; ar/tar failed)"
        rm -rf "$t"
      fi
    done
    # Absolute links (Debian's alternatives and a few -dev links) would point into /.
    find "$PREFIX" -type l -lname '/*' | while read -r l; do
      ln -sfn "$PREFIX$(readlink "$l")" "$l"
    done
    local pc=$PREFIX/usr/lib/x86_64-linux-gnu/pkgconfig  # Debian's alternatives, by hand
    ln -sfn ompi-cxx.pc "$pc/mpi-cxx.pc"; ln -sfn ompi-c.pc "$pc/mpi-c.pc"; ln -sfn ompi.pc "$pc/mpi.pc"
    ln -sfn hdf5-serial.pc "$pc/hdf5.pc"
    touch "$PREFIX/.unpacked"
  fi
  local have
  have=$(ldconfig -p 2>/dev/null | grep -F 'x86-64' | awk '{print $1}' | sort -u)
  rm -rf "$PREFIX/ldpath"
  mkdir -p "$PREFIX/ldpath"
  local brought=() name
  while read -r f; do
    name=$(basename "$f")
    [[ $name =~ \.so\.[0-9]+$ ]] || continue
    if ! grep -qxF "$name" <<<"$have"; then
      ln -sfn "$f" "$PREFIX/ldpath/$name"
      brought+=("$name")
    fi
  done < <(find "$PREFIX/usr/lib/x86_64-linux-gnu" -maxdepth 1 \( -type f -o -type l \) -name 'lib*.so.*' | sort)
  say "unpacked $((${#debs[@]})) .debs into $PREFIX; this machine lacks ${#brought[@]} of their libraries, found through $PREFIX/ldpath: ${brought[*]:0:12}$([ ${#brought[@]} -gt 12 ] && echo ' ...')"
  export LD_LIBRARY_PATH="$PREFIX/ldpath${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PKG_CONFIG_LIBDIR="$PREFIX/usr/lib/x86_64-linux-gnu/pkgconfig:$PREFIX/usr/share/pkgconfig"
  export PKG_CONFIG_SYSROOT_DIR="$PREFIX"
  export PATH="$PATH:$PREFIX/usr/bin"
}

install_wheels() {
  local whl=("$DEPS"/wheels/*.whl)
  [ -e "${whl[0]}" ] || { say "warning: no wheels in $DEPS/wheels (classify_diff.passt needs hear21passt)"; return; }
  local site=$PREFIX/site
  if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
       --target "$site" "${whl[@]}" >/dev/null 2>&1; then
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    say "wheels installed for $PY into $site: $(cd "$DEPS/wheels" && ls | paste -sd' ')"
    local err
    if ! err=$("$PY" -c 'import transformers' 2>&1); then
      rm -rf "$site"/transformers "$site"/transformers-*.dist-info
      say "warning: the carried transformers does not import here ($(echo "$err" | tail -1)); using this machine's own"
    fi
    say "transformers $("$PY" -c 'import transformers; print(transformers.__version__, "from", transformers.__file__)' 2>&1 | tail -1)"
  else
    say "warning: pip could not install $DEPS/wheels/*.whl for $PY"
  fi
}

configure_build() {
  local cxx gen=() nvcc
  cxx=$(command -v c++ || command -v g++ || command -v clang++) ||
    die 2 "no C++ compiler (c++, g++ or clang++) on this machine"
  command -v cmake >/dev/null || die 2 "no cmake on this machine"
  command -v ninja >/dev/null && gen=(-G Ninja)
  nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null) ||
    die 2 "no nvcc (the CUDA toolkit that the CUDA LibTorch's CMake files ask for)"
  local L=$PREFIX/usr/lib/x86_64-linux-gnu
  say "configure $BUILD: $($cxx --version | head -1); $(cmake --version | head -1); nvcc $("$nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
  mkdir -p "$BUILD"
  # TORCH_CUDA_ARCH_LIST: Hopper (H100/H200); it only matters for CUDA sources, which mgsweep
  # has none of, but it stops Torch's CMake from probing for a GPU at configure time.
  TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} cmake -S . -B "$BUILD" "${gen[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER="$cxx" \
    -DCMAKE_PREFIX_PATH="$TORCH_DIR/share/cmake;$PREFIX/usr" \
    -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
    -DCUDAToolkit_ROOT="$(dirname "$(dirname "$nvcc")")" -DCMAKE_CUDA_COMPILER="$nvcc" \
    -DPKG_CONFIG_EXECUTABLE="$PREFIX/usr/bin/pkgconf" \
    -DHDF5_ROOT="$L/hdf5/serial" -DHDF5_C_COMPILER_EXECUTABLE=/nonexistent/h5cc \
    -DMPI_SKIP_COMPILER_WRAPPER=ON -DMPI_mpi_LIBRARY="$L/libmpi.so.40" \
    -DMPI_mpi_cxx_LIBRARY="$L/libmpi_cxx.so.40" \
    -DMGSWEEP_PYTHON="$PY" -DMGSWEEP_REPORT_PYTHON="$PY" >"$BUILD/gpu_check.configure.log" 2>&1 || {
      tail -40 "$BUILD/gpu_check.configure.log"
      [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && cp "$BUILD/gpu_check.configure.log" "$OUT/configure.log"
      die 1 "CMake configure failed (the whole log: $BUILD/gpu_check.configure.log)"
    }
  grep -E 'PyTorch: CUDA detected|Found (HDF5|MPI|CUDAToolkit)|Found Torch' "$BUILD/gpu_check.configure.log" | sed 's/^/  /'
  # Which dependency each came from: the prefix, or this machine.
  local outside
  outside=$(grep -E '^(HDF5_hdf5_LIBRARY_RELEASE|HDF5_C_INCLUDE_DIR|MPI_mpi_LIBRARY|MPI_mpi_cxx_LIBRARY|spdlog_DIR|fmt_DIR|nlohmann_json_DIR|CLI11_DIR|GTest_DIR|benchmark_DIR|pkgcfg_lib_SNDFILE_sndfile|pkgcfg_lib_TOMLPP_tomlplusplus)[:=]' "$BUILD/CMakeCache.txt" |
            grep -v "$PREFIX" | cut -d= -f1,2 | tr '\n' ' ')
  [ -z "$outside" ] && say "every dependency resolved inside $PREFIX" ||
    say "resolved outside $PREFIX (this machine's own): $outside"
  [ "$CONFIGURE_ONLY" = 1 ] && return 0
  local targets=(mgsweep mgsweep_unit_tests mgsweep_model_tests mgsweep_classify_tests
                 mgsweep_classify_diff_tests bench_generate)
  say "build (${JOBS} jobs): ${targets[*]}"
  local t0
  t0=$(date +%s)
  cmake --build "$BUILD" -j "$JOBS" --target "${targets[@]}" >"$BUILD/gpu_check.build.log" 2>&1 || {
    grep -E -B2 -A12 'error:|Error [0-9]|undefined reference' "$BUILD/gpu_check.build.log" | head -80
    [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && cp "$BUILD/gpu_check.build.log" "$OUT/build.log"
    die 1 "build failed after $(( $(date +%s) - t0 )) s (the whole log: $BUILD/gpu_check.build.log)"
  }
  say "built in $(( $(date +%s) - t0 )) s"
}

# The golden and differential tests, with their CUDA variants: the CUDA tests skip on a
# machine without CUDA and run here (Encodec.CudaMatchesIfAvailable,
# TorchScriptClassifier.CudaMatchesCpu, GenerationGolden.CudaMatchesHfIfAvailable,
# PasstDiff.SameLogitsOnCuda inside classify_diff.passt, and hf_diff_compare's CUDA pass).
TEST_REGEX='Golden|Cuda|^Encodec\.|^TorchScriptClassifier\.|^hf_diff_|^tokenizer_diff_|^classify_diff\.'
run_tests() {
  local limit=$(( $(left) - 200 ))  # keep ~200 s for the benchmark
  [ "$SKIP_BENCH" = 1 ] && limit=$(( $(left) - 15 ))
  # On the GPU machine, at most 240 s, so that the benchmark keeps its share of the budget.
  [ "$MODE" = device ] && [ "$limit" -gt 240 ] && limit=240
  if [ "$limit" -lt 30 ]; then
    say "tests: skipped, only $(left) s of the budget left"; TESTS_RC=1; return
  fi
  say "tests (ctest -R '$TEST_REGEX', at most ${limit} s)"
  local t0
  t0=$(date +%s)
  # 8 at a time (at most --jobs), 2 OpenMP threads each unless a test sets its own (oversubscribed OpenMP
  # threads spin: README, Benchmarks).
  OMP_NUM_THREADS=2 timeout -k 10 "$limit" ctest --test-dir "$BUILD" -R "$TEST_REGEX" \
    -j "$(( JOBS < 8 ? JOBS : 8 ))" --output-on-failure --timeout "$limit" >"$BUILD/gpu_check.ctest.log" 2>&1
  TESTS_RC=$?
  # Failures and skips, then what the CUDA comparisons printed (ctest keeps passing tests'
  # output in LastTest.log only), then the count.
  grep -E '\*\*\*|Failed|Not Run|\(Skipped\)|\(Failed\)|\(Timeout\)' "$BUILD/gpu_check.ctest.log" | tail -40
  grep -hE '^\[(encodec|gen|hf_diff)\].*(CUDA|cuda)|PasstDiff.*(OK|FAILED)|SameLogitsOnCuda' \
    "$BUILD/Testing/Temporary/LastTest.log" 2>/dev/null | sort -u | head -20
  grep -E 'tests passed|tests failed' "$BUILD/gpu_check.ctest.log" | tail -1
  [ "$TESTS_RC" = 124 ] && say "tests: stopped at the ${limit} s limit"
  say "tests: exit $TESTS_RC after $(( $(date +%s) - t0 )) s"
  [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && cp "$BUILD/gpu_check.ctest.log" "$OUT/ctest.log" 2>/dev/null
}

bench_one() {  # name, log, command...
  local name=$1 log=$2
  shift 2
  local limit=$(( $(left) - 10 ))
  if [ "$limit" -lt 20 ]; then say "$name: skipped, budget spent"; BENCH_RC=1; return; fi
  say "$name"
  timeout -k 5 "$limit" "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || { say "$name: exit $rc"; BENCH_RC=1; }
}

run_bench() {
  local model=/tmp/mgsweep_bench_$BENCH_SHAPE
  BENCH_RC=0
  if [ ! -f "$model/model.safetensors" ]; then
    say "writing a random musicgen-$BENCH_SHAPE checkpoint to $model"
    "$BUILD/src/mgsweep" make-model --shape "$BENCH_SHAPE" --seed 1 --out "$model" || { BENCH_RC=1; return; }
  fi
  mkdir -p "$BUILD/gpu_bench"
  for dt in ${DTYPES//,/ }; do
    bench_one "mgsweep $dt, batch $BATCH" "$BUILD/gpu_bench/mgsweep_$dt.txt" \
      "$BUILD/bench/bench_generate" --device "$BENCH_DEVICE" --dtype "$dt" --batches "$BATCH" \
      --seconds "$SECONDS_AUDIO" --model "$model"
    bench_one "transformers $dt, batch $BATCH" "$BUILD/gpu_bench/hf_$dt.txt" \
      env PYTHONUNBUFFERED=1 "$PY" bench/bench_generate_hf.py --device "$BENCH_DEVICE" --dtype "$dt" \
      --batches "$BATCH" --seconds "$SECONDS_AUDIO" --model "$model"
  done
  # What transformers' fused attention adds: the same run with its eager attention.
  local last=${DTYPES##*,}
  bench_one "transformers $last, batch $BATCH, eager attention" "$BUILD/gpu_bench/hf_${last}_eager.txt" \
    env PYTHONUNBUFFERED=1 "$PY" bench/bench_generate_hf.py --device "$BENCH_DEVICE" --dtype "$last" \
    --batches "$BATCH" --seconds "$SECONDS_AUDIO" --model "$model" --attn eager
}

summary() {
  local d=$BUILD/gpu_bench
  {
    local gpu
    gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
    [ "$MODE" = rehearse ] && gpu="rehearsal on the CPU, shape $BENCH_SHAPE"
    echo "## GPU check: ${gpu:-no GPU}, LibTorch ${TORCH_VERSION:-?}, batch $BATCH, ${SECONDS_AUDIO} s, guidance, sampled top-k 250"
    echo
    echo "| dtype | mgsweep frames/s | step (roofline) | transformers frames/s (sdpa) | mgsweep / transformers | CUDA graph replay of a step | SDPA vs matmul attention, per step | at::linear vs (W x^T)^T, per step |"
    echo "|---|---|---|---|---|---|---|---|"
    for dt in ${DTYPES//,/ }; do
      local m=$d/mgsweep_$dt.txt h=$d/hf_$dt.txt fm fh step graph attn proj ratio
      fm=$(sed -n 's/.* batch *[0-9]*: *\([0-9.]*\) frames\/s.*/\1/p' "$m" 2>/dev/null | head -1)
      fh=$(sed -n 's/^transformers batch *[0-9]*: *\([0-9.]*\) frames\/s.*/\1/p' "$h" 2>/dev/null | head -1)
      step=$(sed -n 's/.*step \([0-9.]*\) ms, roofline \([0-9.]*\) ms.*: \([0-9.]*x\) the roofline.*/\1 ms (\2 ms, \3)/p' "$m" 2>/dev/null | head -1)
      graph=$(sed -n 's/.*CUDA graph replay: *\([0-9.]*\) ms per step: \([0-9.]*x\) faster.*/\1 ms, \2/p' "$m" 2>/dev/null | head -1)
      [ -z "$graph" ] && graph=$(grep -o 'CUDA graph: capture failed.*' "$m" 2>/dev/null | head -1 | cut -c1-60)
      attn=$(sed -n 's/.*self-attention over *\([0-9]*\) keys:.*: \([-+][0-9.]*\) ms per step.*/\2 ms at \1 keys/p' "$m" 2>/dev/null | head -1)
      proj=$(sed -n 's/.*projections of a step:.*: \([-+][0-9.]*\) ms per step.*/\1 ms/p' "$m" 2>/dev/null | head -1)
      ratio=$(awk -v a="$fm" -v b="$fh" 'BEGIN { if (a > 0 && b > 0) printf "%.2fx", a / b; else print "--" }')
      echo "| $dt | ${fm:---} | ${step:---} | ${fh:---} | $ratio | ${graph:---} | ${attn:---} | ${proj:---} |"
    done
    local e=$d/hf_${DTYPES##*,}_eager.txt
    [ -f "$e" ] && echo && echo "transformers with eager attention (${DTYPES##*,}): $(sed -n 's/^transformers batch *[0-9]*: *\([0-9.]*\) frames\/s.*/\1/p' "$e" | head -1) frames/s"
    echo
    echo "tests: $(grep -E 'tests passed' "$BUILD/gpu_check.ctest.log" 2>/dev/null | tail -1)"
  } | tee "$BUILD/gpu_check_summary.md"
  [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && cp "$BUILD/gpu_check_summary.md" "$OUT/summary.md" 2>/dev/null
  return 0
}

# The device half after torch is found: deps, build, tests, benchmark, summary; exits 0 only
# when the tests and the benchmarks both passed. $1 names the run in its last line.
device_half() {
  unpack_deps
  install_wheels
  configure_build
  TESTS_RC=0 BENCH_RC=0
  [ "$SKIP_TESTS" = 1 ] || run_tests
  [ "$SKIP_BENCH" = 1 ] || { run_bench; summary; }
  say "$1 in $(elapsed) s: tests exit ${TESTS_RC}, benchmarks exit ${BENCH_RC}"
  [ "$TESTS_RC" = 0 ] && [ "$BENCH_RC" = 0 ] && exit 0
  exit 1
}

run_mode() {
  case "$MODE" in
    prepare) prepare; exit $? ;;
    build)
      find_torch
      unpack_deps
      configure_build
      say "done in $(elapsed) s (--build-only: no GPU used)"
      exit 0 ;;
    rehearse)
      say "rehearsal: the device half without a GPU (benchmark on the CPU, shape $BENCH_SHAPE)"
      find_torch
      device_half "rehearsal finished" ;;
    device)
      preflight_gpu
      say "budget ${BUDGET} s; $(nproc) cores; $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}"); $(ldd --version 2>/dev/null | head -1)"
      find_torch
      "$PY" -c 'import sys, torch; ok = torch.cuda.is_available(); print("gpu_check: python torch", torch.__version__, "sees", torch.cuda.get_device_name(0) if ok else "NO GPU"); sys.exit(0 if ok else 1)' ||
        die 3 "no GPU: $PY's torch sees no CUDA device"
      device_half "finished" ;;
  esac
}

# With the device tool's $OUT, the whole output is kept there too.
if [ "$MODE" != prepare ] && [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
  run_mode 2>&1 | tee "$OUT/gpu_check.log"
  exit "${PIPESTATUS[0]}"
fi
run_mode
