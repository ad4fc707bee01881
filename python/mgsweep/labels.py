"""Names as the paper writes them (Table 1, the figure legends), for the report and the
coordinates of the reader. A concept the paper does not have keeps its own name."""

from __future__ import annotations

# Table 1 of the paper ("EDM" for electronic, "Hip Hop" for hiphop).
CONCEPTS = {
    "guitar": "Guitar", "piano": "Piano", "trumpet": "Trumpet", "violin": "Violin",
    "classical": "Classical", "jazz": "Jazz", "pop": "Pop", "rock": "Rock",
    "electronic": "EDM", "hiphop": "Hip Hop",
}
# Table 1's category per prompt slot of the template.
CATEGORIES = {"INSTRUMENTS": "instrument", "GENRE": "genre", "MOOD": "mood", "TEMPO": "tempo"}
COMPONENTS = {"self_attn": "Self-attention", "cross_attn": "Cross-attention", "mlp": "MLP",
              "out": "Residual stream"}
TECHNIQUES = {"replace": "Replace", "adjust": "Adjust"}
# Figure 5's panel sizes and Figure 6's panel titles: the published widths of MusicGen.
MODEL_SIZES = {1024: "MusicGen-small", 1536: "MusicGen-medium", 2048: "MusicGen-large"}


def concept(name: str) -> str:
    return CONCEPTS.get(name, name)


def component(name: str) -> str:
    return COMPONENTS.get(name, name)


def technique(name: str) -> str:
    return TECHNIQUES.get(name, name.capitalize())


def category(slot: str) -> str:
    return CATEGORIES.get(slot, slot.lower())


def pair_category(cat_a: str, cat_b: str) -> str:
    """Figure 6/9's legend: "Inter: Instrument-Instrument", "Cross: Instrument-Genre", ..."""
    kind = "Inter" if cat_a == cat_b else "Cross"
    return f"{kind}: {cat_a.capitalize()}-{cat_b.capitalize()}"
