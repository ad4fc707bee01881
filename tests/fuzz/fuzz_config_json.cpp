// libFuzzer target: arbitrary bytes as a config.json. Parsing must either succeed or
// throw mg::InputError; a parsed config must survive to_json_text and parse again to
// the same values (the make-model writer and the reader agree), and its derived
// quantities must be computable without overflow (UBSan). An error must be one line.
//   seed corpus: tests/golden/tiny/config.json
#include <cstddef>
#include <cstdint>
#include <string>

#include "musicgen/config.h"
#include "musicgen/errors.h"

namespace {

#define SAME(field) \
  if (!(a.field == b.field)) __builtin_trap()

void check_same(const mg::MusicgenConfig& a, const mg::MusicgenConfig& b) {
  SAME(text.vocab_size);
  SAME(text.d_model);
  SAME(text.d_kv);
  SAME(text.d_ff);
  SAME(text.num_layers);
  SAME(text.num_heads);
  SAME(text.relative_attention_num_buckets);
  SAME(text.relative_attention_max_distance);
  SAME(text.layer_norm_epsilon);
  SAME(text.gated_ffn);
  SAME(text.dense_act_fn);
  SAME(decoder.vocab_size);
  SAME(decoder.hidden_size);
  SAME(decoder.num_hidden_layers);
  SAME(decoder.num_attention_heads);
  SAME(decoder.ffn_dim);
  SAME(decoder.num_codebooks);
  SAME(decoder.max_position_embeddings);
  SAME(decoder.pad_token_id);
  SAME(decoder.bos_token_id);
  SAME(decoder.audio_channels);
  SAME(decoder.scale_embedding);
  SAME(decoder.activation_function);
  SAME(decoder.layer_norm_eps);
  SAME(audio.sampling_rate);
  SAME(audio.audio_channels);
  SAME(audio.num_filters);
  SAME(audio.upsampling_ratios);
  SAME(audio.hidden_size);
  SAME(audio.codebook_size);
  SAME(audio.codebook_dim);
  SAME(audio.num_lstm_layers);
  SAME(audio.num_residual_layers);
  SAME(audio.kernel_size);
  SAME(audio.last_kernel_size);
  SAME(audio.residual_kernel_size);
  SAME(audio.dilation_growth_rate);
  SAME(audio.compress);
  SAME(audio.norm_type);
  SAME(audio.pad_mode);
  SAME(audio.use_causal_conv);
  SAME(audio.trim_right_ratio);
  SAME(source);
}

#undef SAME

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  mg::MusicgenConfig c;
  try {
    c = mg::MusicgenConfig::from_json_text(input, "fuzz/config.json");
  } catch (const mg::InputError& e) {
    // The CLI prints what() as its one error line.
    const std::string msg = e.what();
    if (msg.empty() || msg.find('\n') != std::string::npos || msg.size() > 4096) __builtin_trap();
    return 0;
  }
  // What the model code derives from a config that parsed.
  volatile int64_t derived = c.text.inner_dim() + c.decoder.head_dim() + c.decoder.max_delay() +
                             c.audio.hop_length() + c.frame_rate();
  (void)derived;
  const std::string text = c.to_json_text();
  mg::MusicgenConfig again;
  try {
    again = mg::MusicgenConfig::from_json_text(text, "fuzz/config.json");
  } catch (const mg::InputError&) {
    __builtin_trap();  // the writer wrote something the reader refuses
  }
  check_same(c, again);
  if (again.to_json_text() != text) __builtin_trap();
  return 0;
}
