// Choosing the next codes from the guided logits.
//
// Sampling noise is a pure function of (seed, row key, step, codebook, code):
// Gumbel-max with a counter-based hash computed with integer tensor ops, so
// the same on CPU and GPU, and a row's samples do not depend on the batch it is
// in, on the rank, or on the batch size. Sweeps use the prompt as the row key,
// so a baseline and all its intervened variants share their noise.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mg {

struct SamplingConfig {
  bool greedy = false;
  int64_t top_k = 250;  // 0 = no top-k filter
  double temperature = 1.0;
  double guidance = 3.0;  // classifier-free guidance scale
  uint64_t seed = 0;
};

// The 32-bit integer hash used for the noise (scalar form, for tests and keys).
uint32_t mix32(uint32_t x);
// A row key from a text (FNV-1a 64), the default key of a prompt's row.
uint64_t row_key_of(const std::string& text);

// Uniform noise in (0, 1) as float64, [B, K, V], for one step: a pure function of
// (row_keys[b], step, k, v), the seed being folded into the keys by row_key_tensor.
// Computed on `device` with int64 tensor ops.
at::Tensor uniform_noise(const at::Tensor& row_keys, int64_t step, int64_t K, int64_t V,
                         at::Device device);

// Row keys as the int64 tensor uniform_noise takes (each key folded to 32 bits).
at::Tensor row_key_tensor(const std::vector<uint64_t>& keys, uint64_t seed, at::Device device);

// Next codes [B, K] from guided logits [B, K, V]: argmax for greedy, otherwise
// the Gumbel-max sample of softmax(logits / T) restricted to the top k.
at::Tensor choose_codes(const at::Tensor& guided, const SamplingConfig& cfg,
                        const at::Tensor& row_keys, int64_t step);

}  // namespace mg
