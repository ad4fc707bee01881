// Random MusicGen checkpoints with the real shapes, in the Hugging Face layout
// (config.json, model.safetensors, tokenizer.json), so that the demo and the
// benchmarks run the published architectures without the published weights.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

#include "musicgen/config.h"

namespace mg {

// "tiny" (the golden fixture's shapes), "small", "medium", "large" (facebook/musicgen-*).
// stereo: as facebook/musicgen-stereo-*: twice the codebooks, interleaved left/right
// (decoder.audio_channels 2), over the same mono EnCodec.
MusicgenConfig named_shape(const std::string& name, bool stereo = false);

// Writes DIR/config.json, DIR/generation_config.json, DIR/model.safetensors (weights
// drawn from `seed`, stored as `storage`) and DIR/tokenizer.json. Weights are scaled
// like the golden fixture (non-trivial norms, wide logit margins) so greedy decisions
// are robust. The checkpoint is complete for transformers'
// MusicgenForConditionalGeneration.from_pretrained (no missing or unexpected weights:
// the EnCodec encoder and the codebook buffers are written although mgsweep never
// reads them, and target_bandwidths gives one quantizer per stored codebook), so that
// any random model can also be fed to the Python reference (tests/hf_diff).
void write_random_model(const MusicgenConfig& cfg, uint64_t seed, const std::string& dir,
                        at::ScalarType storage = at::kFloat);

}  // namespace mg
