#!/usr/bin/env python3
"""Differential cases for mg::T5Tokenizer, made with the real Hugging Face `tokenizers`.

Writes, under --out:
  legacy.tokenizer.json   the golden tokenizer in the OLDER serialisation that the published
                          facebook/musicgen-* / t5-base files carry (Metaspace with
                          add_prefix_space + str_rep, WhitespaceSplit in a pre-tokenizer
                          Sequence, Replace ' {2,}' -> ' ', no byte_fallback key);
  first.tokenizer.json    the same vocabulary through the other supported steps (Lowercase,
                          Strip left+right, a String Replace, prepend_scheme "first", added
                          tokens with lstrip/rstrip and normalized=true);
  nosplit.tokenizer.json  Llama-style: Prepend + Replace ' ' -> '▁', Metaspace split=false,
                          byte_fallback with <0xXX> pieces;
  cases.json              {"files": [{"name", "path", "cases": [{"text", "ids"}]}]} with the ids
                          `tokenizers.Tokenizer.from_file(path).encode(text).ids` gives for a few
                          thousand deterministic (seeded) strings, for the golden file and the three
                          above.
tests/unit/tokenizer_diff_test.cpp reads cases.json (env MGSWEEP_TOKENIZER_CASES) and compares.
When `tokenizers` is not installed it fails with the pip command (exit 1), or exits 77 (ctest
SKIP_RETURN_CODE) under MGSWEEP_ALLOW_SKIP=1 (tests/oracle_deps.py); either way it first removes
the cases.json of an earlier run, so that the comparison never reads stale cases.
"""
import argparse
import copy
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import oracle_deps  # noqa: E402

META = "\u2581"

MOODS = ["emotional", "passionate", "groovy", "energetic", "happy"]
GENRES = ["rock", "pop", "electronic", "jazz", "classical"]
INSTRUMENTS = ["guitar", "piano", "trumpet", "violin", "flute"]
TEMPI = ["fast", "medium", "slow", "slow to medium", "medium to fast"]

WORDS = ("Compose a happy rock piece with guitar melody Use fast tempo Sad jazz piano "
         "An energetic 80s synth-pop track Slow blues electric solo lush strings warm pads "
         "distorted bassline punchy drums gentle harp arpeggio choir organ saxophone cello "
         "the and of to in is for on that it as by at from this an be or are music song beat "
         "rhythm groove lo-fi hip-hop BPM 120 90 60 C# Eb minor major 4/4 3/4").split()

SPACES = [" ", "  ", "   ", "    ", "\t", "\n", "\r\n", "\r", "\x0b", "\x0c", "\u00a0",
          "\u3000", "\u2002", "\u2003", "\u2009", "\u200a", "\u200b", "\u2028", "\u2029",
          "\u1680", "\u0085", "\u202f", "\u205f", " \t ", "\n\n"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["...", "--", "!!", "?!", "\u2026",
                                                     "\u2014", "\u2013", "\u00ab", "\u00bb",
                                                     "\u201c", "\u201d", "\u2018", "\u2019"]
ACCENTED = list("éèêëàâäáãåçñóòôöõúùûüíìîïýÿßøæœÉÈÀÇÑÖÜÅĳŉǅǈſẞ")
COMBINING = ["\u0301", "\u0300", "\u0308", "\u0327", "\u030a", "\u0303", "\u0302", "\u0323",
             "\u0345", "\u20dd", "\u0336", "\u034f", "\u0903", "\u093f", "\u0e31", "\u302a",
             "\ufe0f", "\ufe0e", "\u200d", "\u200c", "\U000e0100", "\U0001f3fd"]
FULLWIDTH = [chr(c) for c in range(0xFF01, 0xFF5F)] + ["\uff61", "\uff62", "\uff64", "\uff9e",
                                                        "\uffe0", "\uffe5", "\uffe8"]
COMPAT = list("ﬁﬂﬀﬃ²³¹½¼¾™℠…①②⑩⑳ⅣⅫⅷ㎏㎝℃℉№ℌℍℓ㈱㍿ｶﾞﾊﾟ¨´¸µ˚ˇ˘") + ["\u2474", "\u249c",
                                                                       "\u3371", "\u33a1"]
EMOJI = ["🎸", "🎹", "🎺", "🎻", "🥁", "🎷", "🎶", "👍🏽", "👨\u200d👩\u200d👧", "❤\ufe0f",
         "🇺🇸", "🇯🇵🇫🇷", "🏳\ufe0f\u200d🌈", "©", "®", "☺\ufe0e", "#\ufe0f\u20e3", "🧑🏿\u200d🎤",
         "\U0001f1e6", "😀\u200d", "\u200d😀"]
SCRIPTS = ["Ωπσςάέ", "ΣΊΣΥΦΟΣ", "日本語の音楽", "中文歌曲", "한국어 노래", "가각간", "\u1100\u1161",
           "\u1100\u1161\u11a8", "\u1100\u1100\u1161", "\uac00\u11a8\u0301", "क्षत्रिय", "क्\u200dष",
           "ষ্ট্র", "ไทยเพลง", "مرحبا بالموسيقى", "שָׁלוֹם", "Привет мир", "Ёжик", "İstanbul",
           "\u0600\u0661", "\u06dd\u0661\u0662", "\u0d4e\u0d15", "\u0915\u094d\u0937\u0301",
           "ǅemal", "Straße", "ΐΰ", "\u1e9e\u00df"]
CONTROLS = ["\x00", "\x01", "\x07", "\x1b", "\x1f", "\x7f", "\x80", "\x9f", "\u00ad", "\ufeff",
            "\u2060", "\u2061", "\u061c", "\u200e", "\u200f", "\u202a", "\u202e", "\ufff9",
            "\ufffc", "\ufffd", "\U000e0001", "\U000e0041", "\U000f0000", "\U0010fffd"]
SPECIALS = ["</s>", "<pad>", "<unk>", "<s>", "<extra_id_0>", "</s></s>", "<</s>>", "</ s>",
            META, META * 2, META + "a", "<mask>", " <mask> ", "Piano", "PIANO", "rock", "ROCK",
            "<0x41>"]

# Blocks random code points are drawn from (all planes; surrogates excluded).
BLOCKS = [(0x20, 0x7E), (0x80, 0x24F), (0x250, 0x36F), (0x370, 0x52F), (0x590, 0x6FF),
          (0x900, 0xDFF), (0xE00, 0xEFF), (0x1100, 0x11FF), (0x1AB0, 0x1AFF), (0x1D00, 0x1DFF),
          (0x1E00, 0x1FFF), (0x2000, 0x206F), (0x2070, 0x24FF), (0x2500, 0x2BFF),
          (0x2E80, 0x33FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA640, 0xABFF),
          (0xAC00, 0xD7FF), (0xF900, 0xFAFF), (0xFB00, 0xFDFF), (0xFE00, 0xFE6F),
          (0xFF00, 0xFFFF), (0x10000, 0x1FFFF), (0x1F000, 0x1FAFF), (0x20000, 0x2FFFF),
          (0xE0000, 0xE01EF), (0xF0000, 0x10FFFF)]


def rand_char(rng):
    lo, hi = rng.choice(BLOCKS)
    return chr(rng.randint(lo, hi))


def rand_cluster(rng):
    """A base character followed by marks/joiners: exercises grapheme-wise normalization."""
    base = rng.choice([rng.choice(WORDS)[0], rng.choice(ACCENTED), rng.choice(FULLWIDTH),
                       rng.choice(COMPAT), rng.choice(EMOJI), rand_char(rng), "\r", "\u0600",
                       "\u1100", "\uac00", "\u0915", rng.choice(CONTROLS)])
    marks = "".join(rng.choice(COMBINING + ["\u094d", "\u0915", "\u1161", "\u11a8",
                                            "\U0001f1fa", "\n", rand_char(rng)])
                    for _ in range(rng.randint(1, 3)))
    return base + marks


def rand_text(rng):
    pools = [
        (30, lambda: rng.choice(WORDS)),
        (14, lambda: rng.choice(SPACES)),
        (8, lambda: rng.choice(PUNCT)),
        (6, lambda: rng.choice(ACCENTED)),
        (6, lambda: rng.choice(WORDS) + rng.choice(COMBINING)),
        (5, lambda: rng.choice(FULLWIDTH)),
        (5, lambda: rng.choice(COMPAT)),
        (5, lambda: rng.choice(EMOJI)),
        (5, lambda: rng.choice(SCRIPTS)),
        (4, lambda: rng.choice(CONTROLS)),
        (4, lambda: rng.choice(SPECIALS)),
        (6, lambda: rand_cluster(rng)),
        (4, lambda: rand_char(rng)),
    ]
    weights = [w for w, _ in pools]
    n = rng.choice([1, 2, 3, 5, 8, 13, 21, 34])
    return "".join(rng.choices(pools, weights)[0][1]() for _ in range(n))


def make_texts(seed, n_random):
    rng = random.Random(seed)
    texts = ["", " ", "  ", "\t", "\n", "\r\n", META, "a", "A", "x ", " x", "a  b   c",
             "Compose a happy rock piece, with a guitar melody. Use a fast tempo.",
             "Sad jazz with piano."]
    for genre in GENRES:  # the paper's template, every filling
        for mood in MOODS:
            for inst in INSTRUMENTS:
                for tempo in TEMPI:
                    texts.append(f"Compose a {mood} {genre} piece, with a {inst} melody. "
                                 f"Use a {tempo} tempo.")
    for pool in (SPACES, PUNCT, ACCENTED, COMBINING, FULLWIDTH, COMPAT, EMOJI, SCRIPTS, CONTROLS,
                 SPECIALS):
        for s in pool:  # each alone, and between words
            texts += [s, f"rock{s}piano", f"rock {s} piano", f" {s} "]
    for _ in range(n_random):
        texts.append(rand_text(rng))
    for _ in range(n_random // 4):
        texts.append("".join(rand_cluster(rng) for _ in range(rng.randint(1, 6))))
    for _ in range(n_random // 6):
        texts.append("".join(rand_char(rng) for _ in range(rng.randint(1, 12))))
    for k in range(4):  # long strings
        texts.append("".join(rand_text(rng) for _ in range(60 + 40 * k)))
    texts.append("la " * 3000)
    texts.append("x" * 5000)
    seen, out = set(), []
    for t in texts:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def precompiled_of(golden):
    for n in golden["normalizer"]["normalizers"]:
        if n["type"] == "Precompiled":
            return n
    raise SystemExit("golden tokenizer.json has no Precompiled normalizer")


def legacy_variant(golden):
    d = copy.deepcopy(golden)
    d["normalizer"] = {"type": "Sequence", "normalizers": [
        precompiled_of(golden),
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    metaspace = {"type": "Metaspace", "replacement": META, "str_rep": META,
                 "add_prefix_space": True}
    d["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"},
                                                                 metaspace]}
    d["decoder"] = metaspace
    d["model"].pop("byte_fallback", None)
    return d


def first_variant(golden):
    d = copy.deepcopy(golden)
    d["normalizer"] = {"type": "Sequence", "normalizers": [
        precompiled_of(golden),
        {"type": "Lowercase"},
        {"type": "Strip", "strip_left": True, "strip_right": True},
        {"type": "Replace", "pattern": {"String": "  "}, "content": " "},
        {"type": "Replace", "pattern": {"Regex": "a{2,3}"}, "content": "A"}]}
    d["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"},
        {"type": "Metaspace", "replacement": META, "prepend_scheme": "first", "split": True}]}
    d["decoder"] = None

    def tok(content, **kw):
        t = {"id": 0, "content": content, "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": True, "special": False}
        t.update(kw)
        return t
    d["added_tokens"] = d["added_tokens"] + [
        tok("<mask>", lstrip=True, rstrip=True, normalized=False, special=True),
        tok("Rock"), tok("piano"), tok(META + "a"), tok("jazz", rstrip=True)]
    return d


def nosplit_variant(golden):
    d = copy.deepcopy(golden)
    d["normalizer"] = {"type": "Sequence", "normalizers": [
        precompiled_of(golden),
        {"type": "Prepend", "prepend": META},
        {"type": "Replace", "pattern": {"String": " "}, "content": META}]}
    d["pre_tokenizer"] = {"type": "Metaspace", "replacement": META, "prepend_scheme": "first",
                          "split": False}
    d["decoder"] = None
    d["model"]["vocab"] = d["model"]["vocab"] + [[f"<0x{b:02X}>", -20.0] for b in range(256)]
    d["model"]["byte_fallback"] = True
    return d


def main():
    here = HERE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--golden", default=os.path.join(here, "..", "golden", "tiny",
                                                     "tokenizer.json"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--n-random", type=int, default=3000)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    stale = os.path.join(args.out, "cases.json")
    if os.path.exists(stale):
        os.remove(stale)
    tokenizers, = oracle_deps.require("tokenizers", test="tokenizer_diff")
    Tokenizer = tokenizers.Tokenizer
    golden_path = os.path.abspath(args.golden)
    with open(golden_path, encoding="utf-8") as f:
        golden = json.load(f)

    files = [("golden", golden_path)]
    for name, make in [("legacy", legacy_variant), ("first", first_variant),
                       ("nosplit", nosplit_variant)]:
        path = os.path.abspath(os.path.join(args.out, f"{name}.tokenizer.json"))
        with open(path, "w", encoding="utf-8") as f:
            json.dump(make(golden), f, ensure_ascii=False, indent=1)
        files.append((name, path))

    # The older serialisation loads and means the same thing on the golden strings.
    with open(os.path.join(os.path.dirname(golden_path), "tokenizer_ids.json"),
              encoding="utf-8") as f:
        golden_ids = json.load(f)
    expected = [(p["text"], p["t5_ids_with_eos"]) for p in golden_ids["prompts"]]
    expected += [(e["text"], e["ids_with_eos"]) for e in golden_ids["extra_strings"]]
    for name in ("golden", "legacy"):
        tok = Tokenizer.from_file(dict(files)[name])
        for text, ids in expected:
            got = tok.encode(text).ids
            if got != ids:
                raise SystemExit(f"{name}: {text!r} gives {got}, sentencepiece gave {ids}")

    texts = make_texts(args.seed, args.n_random)
    out = {"tokenizers_version": tokenizers.__version__, "seed": args.seed, "files": []}
    for name, path in files:
        tok = Tokenizer.from_file(path)
        cases = [{"text": t, "ids": tok.encode(t).ids} for t in texts]
        out["files"].append({"name": name, "path": path, "cases": cases})
    if not texts or any(not f["cases"] for f in out["files"]):
        raise SystemExit("gen_tokenizer_cases: no cases generated")
    differ = sum(a["ids"] != b["ids"] for a, b in zip(out["files"][0]["cases"],
                                                       out["files"][1]["cases"]))
    cases_path = os.path.join(args.out, "cases.json")
    with open(cases_path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False)
    print(f"gen_tokenizer_cases: tokenizers {tokenizers.__version__}: {len(texts)} strings x "
          f"{len(files)} tokenizer files -> {cases_path} (legacy and golden serialisations "
          f"differ on {differ} strings)")


if __name__ == "__main__":
    sys.exit(main())
