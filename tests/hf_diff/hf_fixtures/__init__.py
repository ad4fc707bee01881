"""The parts of make_hf_fixtures.py (its entry point, next to this package; README.md there).

    common         environment set-up, third-party imports (checked by oracle_deps), constants
    shapes         random shapes drawn from (seed, index) and their transformers configs
    weights        deterministic weights and the checkpoint layouts (legacy / transformers 5)
    runner         running transformers: forward hooks, teacher forcing, greedy CFG generation
    interventions  mgsweep's interventions (src/musicgen/hooks.h) as transformers hooks
    reference      every expected tensor of one model, with the script's own cross-checks
    fixture        one shape directory: draw, build, save, re-load, compute, write meta.json
    golden         --check-golden: recompute a transformers-4.43.4 golden fixture
"""
