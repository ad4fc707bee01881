// The T5 text encoder (encoder stack only), as MusicGen conditions on it.
// Always computed in float32: T5 is known to overflow in float16, and the
// reference implementations force softmax and RMS-norm statistics to float32.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "musicgen/config.h"
#include "musicgen/weights.h"

namespace mg {

class T5Encoder {
 public:
  T5Encoder(const T5Config& cfg, const Weights& w, at::Device device,
            const std::string& prefix = "text_encoder.");
  // ids, mask: [B, L] int64 (mask 1 = real token). Returns [B, L, d_model] float32. On CPU
  // each row is encoded alone on one thread (row_parallel.h): the same bits whatever the
  // thread count.
  at::Tensor forward(const at::Tensor& ids, const at::Tensor& mask) const;

 private:
  at::Tensor forward_batch(const at::Tensor& ids, const at::Tensor& mask) const;
  struct Block {
    at::Tensor ln_attn, q, k, v, o;  // q/k/v [inner, d_model], o [d_model, inner]
    at::Tensor ln_ff, wi, wi_1, wo;  // wi_1 only for gated FFNs
  };
  at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w) const;
  at::Tensor position_bias(int64_t len) const;  // [1, heads, L, L]
  at::Tensor activation(const at::Tensor& x) const;

  T5Config cfg_;
  at::Tensor embed_;          // [vocab, d_model]
  at::Tensor relative_bias_;  // [buckets, heads] from block 0, shared by all blocks
  std::vector<Block> blocks_;
  at::Tensor final_ln_;
};

// T5's bidirectional relative-position bucket of (key - query) distances.
at::Tensor t5_relative_buckets(const at::Tensor& relative_position, int64_t num_buckets,
                               int64_t max_distance);

}  // namespace mg
