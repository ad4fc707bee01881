"""Environment set-up, third-party imports and constants shared by the hf_fixtures modules.

Importing this hides a broken torchaudio, keeps Hugging Face offline, checks (tests/oracle_deps.py)
and imports torch, safetensors, tokenizers and transformers, and quiets transformers' logging.
"""

import os
import sys


# The venv's torchaudio may be built for another torch/CUDA and raise at import. transformers
# only needs it to load audio files, so hide a broken one (find_spec() returns None for a
# sys.modules entry of None, so transformers treats it as not installed).
try:  # noqa: SIM105
    import torchaudio  # noqa: F401
except Exception:  # pragma: no cover - depends on the environment
    for _k in [k for k in sys.modules if k == "torchaudio" or k.startswith("torchaudio.")]:
        del sys.modules[_k]
    sys.modules["torchaudio"] = None

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/hf_diff

sys.path.insert(0, os.path.join(HERE, ".."))
import oracle_deps  # noqa: E402

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

