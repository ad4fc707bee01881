// The parts of a Hugging Face MusicgenForConditionalGeneration config.json that
// the computation depends on. Nothing here is tied to one checkpoint's shapes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mg {

struct T5Config {
  int64_t vocab_size = 0;
  int64_t d_model = 0;
  int64_t d_kv = 0;  // per head; num_heads * d_kv may differ from d_model
  int64_t d_ff = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double layer_norm_epsilon = 1e-6;
  bool gated_ffn = false;             // "gated-gelu" (T5 v1.1) vs "relu" (t5-base)
  std::string dense_act_fn = "relu";  // relu | gelu_new | gelu | silu
  int64_t inner_dim() const { return num_heads * d_kv; }
};

struct DecoderConfig {
  int64_t vocab_size = 0;  // codebook size; embedding tables have vocab_size + 1 rows
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t ffn_dim = 0;
  int64_t num_codebooks = 0;
  int64_t max_position_embeddings = 2048;
  int64_t pad_token_id = 0;  // the special id used for BOS and the delay pattern
  int64_t bos_token_id = 0;
  int64_t audio_channels = 1;
  bool scale_embedding = false;
  std::string activation_function = "gelu";
  double layer_norm_eps = 1e-5;
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  // Delay of codebook k in the delay pattern: k for mono; for stereo the codebooks
  // interleave left/right and each pair shares a delay (k / 2).
  int64_t delay(int64_t k) const { return audio_channels == 2 ? k / 2 : k; }
  int64_t max_delay() const { return delay(num_codebooks - 1); }
};

struct EncodecConfig {
  int64_t sampling_rate = 32000;
  int64_t audio_channels = 1;
  int64_t num_filters = 0;
  std::vector<int64_t> upsampling_ratios;
  int64_t hidden_size = 0;
  int64_t codebook_size = 0;
  int64_t codebook_dim = 0;
  int64_t num_lstm_layers = 2;
  int64_t num_residual_layers = 1;
  int64_t kernel_size = 7;
  int64_t last_kernel_size = 7;
  int64_t residual_kernel_size = 3;
  int64_t dilation_growth_rate = 2;
  int64_t compress = 2;
  std::string norm_type = "weight_norm";
  std::string pad_mode = "reflect";
  bool use_causal_conv = false;
  double trim_right_ratio = 1.0;
  int64_t hop_length() const;  // samples per code frame = product of the ratios
};

struct MusicgenConfig {
  T5Config text;
  DecoderConfig decoder;
  EncodecConfig audio;
  std::string source;  // the file it came from, for error messages

  static MusicgenConfig from_file(const std::string& path);
  static MusicgenConfig from_json_text(const std::string& text, const std::string& origin);
  // Inverse, for make-model: a config.json that transformers also reads.
  std::string to_json_text() const;
  int64_t frame_rate() const { return audio.sampling_rate / audio.hop_length(); }
};

}  // namespace mg
