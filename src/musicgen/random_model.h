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
MusicgenConfig named_shape(const std::string& name);

// Writes DIR/config.json, DIR/model.safetensors (weights drawn from `seed`, stored
// as `storage`) and DIR/tokenizer.json. Weights are scaled like the golden
// fixture (non-trivial norms, wide logit margins) so greedy decisions are robust.
void write_random_model(const MusicgenConfig& cfg, uint64_t seed, const std::string& dir,
                        at::ScalarType storage = at::kFloat);

}  // namespace mg
