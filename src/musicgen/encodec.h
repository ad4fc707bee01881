// The EnCodec decoder (SEANet decoder + residual-vector-quantizer lookup) that
// turns MusicGen's codes into audio, in the Hugging Face EncodecModel layout.
// The module list is derived from config.json exactly as HF's EncodecDecoder
// builds it (conv, LSTM, then per upsampling ratio ELU + ConvTranspose1d +
// residual blocks, then ELU + conv), so the tensor names follow the config.
// Weight norm is folded once at load; decoding is batched.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "musicgen/config.h"
#include "musicgen/weights.h"

namespace mg {

class EncodecDecoder {
 public:
  // Reads "<prefix>quantizer.layers.{k}.codebook.embed" and "<prefix>decoder.layers.*" from the
  // weights, shapes checked against `cfg` (InputError naming the tensor otherwise). Weight norm
  // (weight_g/weight_v, or the parametrizations.weight.original0/1 names of newer transformers)
  // is folded in float32, then everything is cast to `options`' dtype/device.
  // `num_codebooks` > 0 requires that many codebooks in the checkpoint (pass the LM's
  // decoder.num_codebooks); -1 takes every codebook present (they must be numbered 0..n-1).
  EncodecDecoder(const EncodecConfig& cfg, const Weights& weights, const at::TensorOptions& options,
                 const std::string& prefix = "audio_encoder.", int64_t num_codebooks = -1);

  // codes [B, K, T] integer in [0, codebook_size), K <= num_codebooks(); any device.
  // -> sum of the K codebook embeddings [B, codebook_dim, T] (options' dtype/device).
  at::Tensor decode_latent(const at::Tensor& codes) const;
  // -> [B, audio_channels, T * hop_length] (options' dtype/device). On CPU each row is
  // decoded alone on one thread (row_parallel.h): the same bits whatever the thread count.
  at::Tensor decode(const at::Tensor& codes) const;
  // The SEANet decoder alone: latent [B, hidden_size, T] -> audio.
  at::Tensor decode_from_latent(const at::Tensor& latent) const;

  int64_t sample_rate() const { return cfg_.sampling_rate; }
  int64_t hop_length() const { return cfg_.hop_length(); }
  int64_t audio_channels() const { return cfg_.audio_channels; }
  int64_t num_codebooks() const { return num_codebooks_; }
  const at::TensorOptions& options() const { return options_; }
  const EncodecConfig& config() const { return cfg_; }

 private:
  // A stride-1 EncodecConv1d with its weight norm folded.
  struct Conv {
    at::Tensor weight;  // [out, in, k]
    at::Tensor bias;    // [out]
    int64_t dilation = 1;
    int64_t pad_left = 0;
    int64_t pad_right = 0;
    // CPU, few output channels: oneDNN is slow there (4-5x for the final 1-channel conv), so
    // the conv runs as k shifted matmuls with taps [k, out, in] instead.
    at::Tensor taps;
  };
  // EncodecConvTranspose1d: conv_transpose1d with `padding` (the symmetric part of the trim),
  // then `trim_left` / `trim_right` more samples cut.
  struct ConvTranspose {
    at::Tensor weight;  // [in, out, k]
    at::Tensor bias;    // [out]
    int64_t stride = 1;
    int64_t padding = 0;
    int64_t trim_left = 0;
    int64_t trim_right = 0;
  };
  struct ResBlock {
    Conv conv1;  // k = residual_kernel_size, dilation growth^j, dim -> dim / compress
    Conv conv2;  // k = 1, -> dim
    bool has_shortcut = false;
    Conv shortcut;  // k = 1 conv shortcut (HF use_conv_shortcut = true)
  };
  struct Stage {
    ConvTranspose up;
    std::vector<ResBlock> blocks;
  };

  Conv load_conv(const Weights& w, const std::string& name, int64_t in, int64_t out, int64_t k,
                 int64_t dilation) const;
  ConvTranspose load_conv_transpose(const Weights& w, const std::string& name, int64_t in,
                                    int64_t out, int64_t k, int64_t stride) const;
  at::Tensor load_weight_norm(const Weights& w, const std::string& name,
                              at::IntArrayRef shape) const;
  at::Tensor conv(const Conv& c, const at::Tensor& x) const;
  at::Tensor conv_transpose(const ConvTranspose& c, const at::Tensor& x) const;
  at::Tensor lstm(const at::Tensor& x) const;

  EncodecConfig cfg_;
  at::TensorOptions options_;
  int64_t num_codebooks_ = 0;
  at::Tensor codebooks_;  // [num_codebooks * codebook_size, codebook_dim], codebook k at rows k*C..
  Conv first_;
  std::vector<at::Tensor> lstm_params_;  // per layer: w_ih, w_hh, b_ih, b_hh
  int64_t lstm_dim_ = 0;
  std::vector<Stage> stages_;
  Conv last_;
};

}  // namespace mg
