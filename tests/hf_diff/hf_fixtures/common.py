"""Environment set-up, third-party imports and constants shared by the hf_fixtures modules.

Importing this hides a broken torchaudio, keeps Hugging Face offline, checks (tests/oracle_deps.py)
and imports torch, safetensors, tokenizers and transformers, and quiets transformers' logging.
"""

import os
import sys


HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/hf_diff

sys.path.insert(0, os.path.join(HERE, ".."))
import oracle_deps  # noqa: E402

oracle_deps.prepare_transformers_import()  # before transformers: a broken torchaudio hidden

oracle_deps.require("torch", "safetensors", "tokenizers", "transformers", test="hf_diff")
import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

import transformers  # noqa: E402
from transformers import (  # noqa: E402
    EncodecConfig,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    T5Config,
)

transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()

GOLDEN_TOKENIZER = os.path.join(HERE, "..", "golden", "tiny", "tokenizer.json")

GUIDANCE = 3.0
MIN_MARGIN = 1e-3  # re-draw the weights of a shape whose smallest greedy gap is below this
DRIFT_MARGIN_FACTOR = 50.0  # ... or below this times the float32 run's logit drift (make_shape)
MAX_ATTEMPTS = 8
FRAME_RATE = 50  # sampling_rate = FRAME_RATE * hop_length

PROMPTS = [
    "Compose a happy rock piece, with a guitar melody. Use a fast tempo.",
    "Sad jazz with piano.",
    "80s pop track with bassy drums and synth",
    "Lo-fi hip hop beat",
    "An epic orchestral soundtrack with strings, brass and choir, building up slowly to a dramatic climax.",
    "ambient",
    "Calm   acoustic  guitar, soft and warm",
    "Techno!",
]

