#!/usr/bin/env bash
# Installs everything mgsweep needs on a Debian 12 machine and builds it.
#   - Debian packages (as root, when missing): compilers, Open MPI, HDF5, toml++,
#     spdlog, CLI11, nlohmann-json, libsndfile, GoogleTest, Google Benchmark, clang,
#     chromium (headless, for the test of the report's page) and e2fsprogs (chattr, for the
#     store's permission fault test).
#   - A project-local virtual environment .venv with the torch wheel (its LibTorch is
#     what we link) and the upstream Python packages used as test oracles.
#   - A Release build in build/.
# Safe to run again: every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(build-essential cmake pkg-config python3-venv libopenmpi-dev openmpi-bin
  libhdf5-dev libtomlplusplus-dev libspdlog-dev libcli11-dev nlohmann-json3-dev
  libsndfile1-dev libgtest-dev libbenchmark-dev clang libclang-rt-14-dev chromium e2fsprogs)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
  echo "setup: installing the torch wheel (LibTorch) into .venv"
  .venv/bin/pip install -q -r tools/requirements-torch.txt
fi
if [ -f tests/requirements-diff.txt ]; then
  # The upstream Python code (transformers, tokenizers, hear21passt) that the
  # differential tests compare against; pip skips what is already there.
  .venv/bin/pip install -q -r tests/requirements-diff.txt
fi

# The store reader and the report (python/: `import mgsweep`, what `mgsweep report` runs):
# its pinned packages, then the package itself, editable, so the checkout's code is what runs.
.venv/bin/pip install -q -r python/requirements.txt
.venv/bin/pip install -q --no-deps -e python/

TORCH_PREFIX=$(.venv/bin/python -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/src/mgsweep"
