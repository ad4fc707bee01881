// WAV output through libsndfile.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace mg {

// Writes `audio` [channels, samples] (or [samples] for mono; any floating dtype, any device)
// to `path` as a WAV file of 32-bit IEEE float samples at `sample_rate` Hz.
// Float, not 16-bit PCM: the decoder's output is not bounded to [-1, 1] and is what the
// classifiers score, so the file keeps it bit-exact (no clipping, no quantisation noise, and
// reading it back gives the same numbers); the only cost is twice the size of 16-bit.
// The file appears atomically (written to a temporary name in the same folder, then renamed),
// so an interrupted job never leaves a truncated WAV under the final name.
// Throws InputError naming the path when it cannot be written, std::invalid_argument for a
// tensor that is not audio.
void write_wav(const std::string& path, const at::Tensor& audio, int64_t sample_rate);

}  // namespace mg
