"""The oracle's reading of an experiment: the paper's prompt generator and the job file.

Part of the oracle (tests/oracle/README.md): the original generator's rules
(interchange_interventions/prompt_generator.py) re-typed, and the job TOML (with includes) read
for what the oracle needs to know, not through mgsweep's spec loader.
"""

import os

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib  # type: ignore

# --------------------------------------------------------------------------------------------
# Prompts: the original generator's rules (interchange_interventions/prompt_generator.py).

# The constants of the original prompt_generator.py, copied from the original code.
PAPER_TEMPLATE = "Compose a [MOOD] [GENRE] piece, with a [INSTRUMENTS] melody. Use a [TEMPO] tempo."
PAPER_VOCAB = {
    "[GENRE]": ["rock", "pop", "electronic", "jazz", "classical"],
    "[MOOD]": ["emotional", "passionate", "groovy", "energetic", "happy"],
    "[INSTRUMENTS]": ["guitar", "piano", "trumpet", "violin", "flute"],
    "[TEMPO]": ["fast", "medium", "slow", "slow to medium", "medium to fast"],
}
# get_prompts_for(): the loops run over this list with the fixed slot removed, outermost first.
PAPER_SLOT_LOOP = ["[GENRE]", "[MOOD]", "[INSTRUMENTS]", "[TEMPO]"]
# intervention_main.py: the paper's concepts, numbered 0..9 in this order, with the AudioSet
# ids the effect uses; instruments (0..3) fill [INSTRUMENTS], genres [GENRE].
PAPER_CONCEPTS = [
    ("guitar", 140), ("piano", 153), ("trumpet", 187), ("violin", 191),
    ("classical", 237), ("pop", 216), ("jazz", 235), ("rock", 219), ("electronic", 245),
    ("hiphop", 217),
]


def original_prompts(const_subj, prompt_type, n_total=100, n_per_type=1000):
    """PromptGenerator.get_prompts_for of the original code, re-typed: the fixed slot
    `prompt_type` ("[GENRE]", ...) gets `const_subj`; the other three slots run through the
    vocabularies in nested loops in PAPER_SLOT_LOOP order (outermost first); the first n_total."""
    types = [t for t in PAPER_SLOT_LOOP if t != prompt_type]
    assert len(types) == 3, prompt_type
    ta, tb, tc = types
    out = []
    for a in PAPER_VOCAB[ta][:n_per_type]:
        for b in PAPER_VOCAB[tb][:n_per_type]:
            for c in PAPER_VOCAB[tc][:n_per_type]:
                out.append(PAPER_TEMPLATE.replace(ta, a).replace(tb, b).replace(tc, c)
                           .replace(prompt_type, const_subj))
    return out[:n_total]


# --------------------------------------------------------------------------------------------
# The job file (TOML with includes): only what the oracle needs to know about the experiment.


def _merge(base, over):
    """Tables merge key by key, everything else (arrays too) is replaced (README / spec.h)."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def load_toml_with_includes(path):
    with open(path, "rb") as f:
        doc = tomllib.load(f)
    merged = {}
    for inc in doc.pop("include", []):
        merged = _merge(merged, load_toml_with_includes(os.path.join(os.path.dirname(path), inc)))
    return _merge(merged, doc)


class Job:
    """The experiment a job file asks for, as the oracle understands it."""

    def __init__(self, path, num_layers, num_heads, frame_rate=50):
        d = load_toml_with_includes(path)
        self.raw = d
        self.model = d["model"]
        self.classifier = d["classifier"]
        if self.classifier.get("kind") != "torchscript":
            raise SystemExit("oracle: the job must use a torchscript classifier (the real PaSST)")
        g = d.get("generation", {})
        self.frames = int(g["frames"]) if "frames" in g else int(round(g.get("duration", 4.0) * frame_rate))
        self.guidance = float(g.get("guidance", 3.0))
        if not g.get("greedy", False):
            raise SystemExit("oracle: the job must be greedy (generation.greedy = true)")
        p = d["prompts"]
        # The oracle builds prompts with the original generator; the job must ask for exactly it.
        if p["template"] != PAPER_TEMPLATE:
            raise SystemExit(f"oracle: the job's template {p['template']!r} is not the paper's")
        if ["[" + s + "]" for s in p["slot_order"]] != PAPER_SLOT_LOOP:
            raise SystemExit(f"oracle: slot_order {p['slot_order']} is not the original code's")
        for s, vals in p["vocab"].items():
            if vals != PAPER_VOCAB["[" + s + "]"]:
                raise SystemExit(f"oracle: vocabulary {s} differs from the original code's")
        self.per_concept = int(p.get("per_concept", 100))
        self.concepts = []
        for name in d["concepts"]:
            c = d["concept"][name]
            self.concepts.append(dict(name=name, slot="[" + c["slot"] + "]", value=c["value"],
                                      label=int(c["label"]), relevant=[int(x) for x in c["relevant"]]))
        self.prompts = [original_prompts(c["value"], c["slot"], self.per_concept) for c in self.concepts]
        for c, ps in zip(self.concepts, self.prompts):
            if len(ps) != self.per_concept:
                raise SystemExit(f"oracle: only {len(ps)} prompts for {c['name']}")
        self.L, self.NH = num_layers, num_heads
        b = d.get("baseline", {})
        self.baseline = b.get("enabled", True)
        self.means_per_step = b.get("means", "per_step") == "per_step"
        if not self.means_per_step:
            raise SystemExit("oracle: only means = \"per_step\" (the paper's) is implemented")
        self.self_similarity = b.get("self_similarity", True)
        le = d.get("lens", {})
        self.lens = le.get("enabled", False)
        lk = le.get("layers", "all")
        self.lens_k = list(range(1, num_layers + 1)) if lk == "all" else [int(k) for k in lk]
        iv = d.get("interventions", {})
        self.interventions = iv.get("enabled", False)
        for key in ("both_halves", "compat_row0_history", "compat_last_layer_only"):
            if iv.get(key, False):
                raise SystemExit(f"oracle: interventions.{key} = true is not implemented")
        self.techniques = list(iv.get("techniques", []))
        for t in self.techniques:
            if t not in ("replace", "adjust"):
                raise SystemExit(f"oracle: technique {t} is not implemented (replace, adjust)")
        pairs = iv.get("pairs", "all")
        names = [c["name"] for c in self.concepts]
        if pairs == "all":
            # the original's double loop: for i: for j: if i != j
            self.pairs = [(a, b) for a in range(len(names)) for b in range(len(names)) if a != b]
        else:
            self.pairs = [(names.index(a), names.index(b)) for a, b in pairs]
        heads = iv.get("heads", False) or iv.get("components") == "heads"
        comps = iv.get("components", ["self_attn", "cross_attn", "mlp"])
        if comps == "heads":
            comps = ["self_attn", "cross_attn"]
        layers = iv.get("layers", "all")
        layers = list(range(num_layers)) if layers == "all" else [int(x) for x in layers]
        self.sites = []  # (layer, component, head or None)
        for layer in layers:
            for comp in comps:
                if heads and comp != "mlp":
                    self.sites += [(layer, comp, h) for h in range(num_heads)]
                else:
                    self.sites.append((layer, comp, None))
        self.steps = self.frames + 4 - 1  # set properly by the oracle from the model (K - 1 delays)
        wins = iv.get("windows", [[0, "end"]])
        self.windows = [(int(w[0]), None if w[1] == "end" else int(w[1])) for w in wins]
        self.targets = [(s, w) for s in self.sites for w in self.windows]
        ex = d.get("extremes", {})
        self.extremes = ex.get("enabled", "extremes" in d)
        self.top_k = int(ex.get("top_k", 5))


def site_name(site):
    layer, comp, head = site
    return f"layers.{layer}.{comp}" + ("" if head is None else f".head.{head}")


def target_name(target, steps):
    site, (t0, t1) = target
    t1 = steps if t1 is None else t1
    return site_name(site) + ("" if (t0 == 0 and t1 >= steps) else f"@{t0}-{t1}")
