"""Imports for the differential tests: the oracle packages, or a stop that says how to install them.

A differential test whose reference package is missing must not pass quietly: `require()` exits 1
with the pip command that installs it. Only under the explicit opt-out MGSWEEP_ALLOW_SKIP=1 does it
exit 77 instead (the tests register SKIP_RETURN_CODE 77, so CTest reports them as skipped, never as
passed). Only a package that is absent itself counts as missing: a package that is there but fails
to import (a missing dependency of it, a broken wheel) always fails, opt-out or not, because that
is a broken setup rather than a machine without the oracle.

    sys.path.insert(0, <tests dir>); import oracle_deps
    oracle_deps.require("transformers", "tokenizers", test="hf_diff")
"""

import importlib
import os
import sys

SKIP = 77  # CTest SKIP_RETURN_CODE of every differential test
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# Where each package is pinned (tools/setup.sh installs both files into .venv).
REQUIREMENTS = {"torch": "tools/requirements-torch.txt"}
DEFAULT_REQUIREMENTS = "tests/requirements-diff.txt"


def prepare_transformers_import():
    """Call before importing transformers: hides a broken torchaudio and keeps the hub offline.

    The venv's torchaudio wheel may be built for another torch/CUDA and raise at import;
    transformers only needs it to load audio files. A sys.modules entry of None makes
    find_spec() report it absent, so transformers treats it as not installed.
    """
    try:  # noqa: SIM105
        import torchaudio  # noqa: F401
    except Exception:  # pragma: no cover - depends on the environment
        for k in [k for k in sys.modules if k == "torchaudio" or k.startswith("torchaudio.")]:
            del sys.modules[k]
        sys.modules["torchaudio"] = None
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def allow_skip():
    return os.environ.get("MGSWEEP_ALLOW_SKIP", "") == "1"


def install_command(packages):
    pip = os.path.join(os.path.dirname(sys.executable), "pip")
    files = sorted({REQUIREMENTS.get(p, DEFAULT_REQUIREMENTS) for p in packages})
    return f"{pip} install " + " ".join(f"-r {os.path.join(ROOT, f)}" for f in files)


def missing_packages(test, packages, may_skip=True):
    """Stops the process: exit 77 (skip) under MGSWEEP_ALLOW_SKIP=1 if may_skip, else 1 (fail)."""
    skip = may_skip and allow_skip()
    verdict = "SKIP" if skip else "FAIL"
    print(f"{verdict}: {test} compares against the Python package(s) {', '.join(packages)}, "
          f"missing from {sys.executable}.\n"
          f"  Install: {install_command(packages)}\n"
          + ("  (or run tools/setup.sh; set MGSWEEP_ALLOW_SKIP=1 to skip the differential tests "
             "instead of failing)" if may_skip else
             "  (or run tools/setup.sh; MGSWEEP_ALLOW_SKIP=1 does not skip this test for this "
             "package)"), flush=True)
    sys.exit(SKIP if skip else 1)


def require(*modules, test):
    """Imports every module (e.g. "transformers", "hear21passt.wrapper") and returns them."""
    out, missing = [], []
    for mod in modules:
        top = mod.split(".")[0]
        try:
            out.append(importlib.import_module(mod))
        except ModuleNotFoundError as e:
            if e.name != top:  # the package is there but something it imports is not
                print(f"FAIL: {test}: `import {mod}` failed: {e}\n"
                      f"  the package is installed but broken; reinstall: {install_command([top])}",
                      flush=True)
                raise
            missing.append(top)
    if missing:
        missing_packages(test, sorted(set(missing)))
    return out
