#include "musicgen/config.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "musicgen/errors.h"

namespace mg {
namespace {

using json = nlohmann::json;

// Every integer of a config is a size, a count or a token id: 2^31 - 1 is far beyond any
// real one and keeps products of two of them (heads * d_kv, ...) far from overflow.
constexpr int64_t kMaxConfigInt = (int64_t{1} << 31) - 1;

// A string value quoted for an error message: control characters escaped and long
// values cut, so that the message stays one line.
std::string quoted_value(const std::string& s) { return "'" + printable(s, 100) + "'"; }

// Reads typed fields of one config section with errors that name the field.
class Section {
 public:
  Section(const json& j, std::string file, std::string prefix)
      : j_(j), file_(std::move(file)), prefix_(std::move(prefix)) {}

  const json& need(const char* key) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null())
      throw InputError(file_, prefix_ + key, "missing",
                       "use the config.json that came with the checkpoint");
    return *it;
  }
  int64_t integer(const char* key) const {
    const json& v = need(key);
    if (!v.is_number_integer()) throw InputError(file_, prefix_ + key, "is not an integer");
    // An unsigned above INT64_MAX would wrap around to a negative int64.
    if ((v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(kMaxConfigInt)) ||
        v.get<int64_t>() > kMaxConfigInt || v.get<int64_t>() < -kMaxConfigInt)
      throw InputError(file_, prefix_ + key, "is out of range (above 2^31 in magnitude)");
    return v.get<int64_t>();
  }
  int64_t positive(const char* key) const {
    int64_t v = integer(key);
    if (v <= 0) throw InputError(file_, prefix_ + key, "must be positive, is " + std::to_string(v));
    return v;
  }
  int64_t integer_or(const char* key, int64_t def) const { return has(key) ? integer(key) : def; }
  double number_or(const char* key, double def) const {
    if (!has(key)) return def;
    const json& v = need(key);
    // A number too large for a double (1e400) parses as infinity, which JSON cannot write back.
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      throw InputError(file_, prefix_ + key, "is not a finite number");
    return v.get<double>();
  }
  bool boolean_or(const char* key, bool def) const {
    if (!has(key)) return def;
    const json& v = need(key);
    if (!v.is_boolean()) throw InputError(file_, prefix_ + key, "is not true/false");
    return v.get<bool>();
  }
  std::string string_or(const char* key, const std::string& def) const {
    if (!has(key)) return def;
    const json& v = need(key);
    if (!v.is_string()) throw InputError(file_, prefix_ + key, "is not a string");
    return v.get<std::string>();
  }
  std::vector<int64_t> int_list(const char* key) const {
    const json& v = need(key);
    if (!v.is_array() || v.empty())
      throw InputError(file_, prefix_ + key, "is not a non-empty list of integers");
    std::vector<int64_t> out;
    for (const auto& e : v) {
      if (!e.is_number_integer() || e.get<int64_t>() <= 0 ||
          (e.is_number_unsigned() && e.get<uint64_t>() > uint64_t(kMaxConfigInt)) ||
          e.get<int64_t>() > kMaxConfigInt)
        throw InputError(file_, prefix_ + key,
                         "holds a non-positive, non-integer or out-of-range entry");
      out.push_back(e.get<int64_t>());
    }
    return out;
  }
  bool has(const char* key) const {
    auto it = j_.find(key);
    return it != j_.end() && !it->is_null();
  }
  [[noreturn]] void fail(const char* key, const std::string& problem) const {
    throw InputError(file_, prefix_ + key, problem);
  }

 private:
  const json& j_;
  std::string file_;
  std::string prefix_;
};

const json& section(const json& root, const char* key, const std::string& file) {
  auto it = root.find(key);
  if (it == root.end() || !it->is_object())
    throw InputError(file, key, "missing section",
                     "expected a MusicgenForConditionalGeneration config.json "
                     "(text_encoder, decoder, audio_encoder)");
  return *it;
}

T5Config parse_t5(const json& j, const std::string& file) {
  Section s(j, file, "text_encoder.");
  T5Config c;
  c.vocab_size = s.positive("vocab_size");
  c.d_model = s.positive("d_model");
  c.d_kv = s.positive("d_kv");
  c.d_ff = s.positive("d_ff");
  c.num_layers = s.positive("num_layers");
  c.num_heads = s.positive("num_heads");
  c.relative_attention_num_buckets = s.integer_or("relative_attention_num_buckets", 32);
  c.relative_attention_max_distance = s.integer_or("relative_attention_max_distance", 128);
  if (c.relative_attention_num_buckets < 4)
    s.fail("relative_attention_num_buckets", "must be at least 4");
  if (c.relative_attention_max_distance <= c.relative_attention_num_buckets / 4)
    s.fail("relative_attention_max_distance", "must exceed relative_attention_num_buckets/4");
  c.layer_norm_epsilon = s.number_or("layer_norm_epsilon", 1e-6);
  // transformers: feed_forward_proj is "relu", "gated-gelu" or "<gated->act";
  // "gated-gelu" maps to the tanh-approximated gelu_new.
  const std::string proj = s.string_or("feed_forward_proj", "relu");
  const std::string gated_prefix = "gated-";
  c.gated_ffn = s.boolean_or("is_gated_act", proj.rfind(gated_prefix, 0) == 0);
  std::string act = proj.rfind(gated_prefix, 0) == 0 ? proj.substr(gated_prefix.size()) : proj;
  if (act == "gelu" && c.gated_ffn) act = "gelu_new";
  c.dense_act_fn = s.string_or("dense_act_fn", act);
  if (c.dense_act_fn != "relu" && c.dense_act_fn != "gelu_new" && c.dense_act_fn != "gelu" &&
      c.dense_act_fn != "silu")
    s.fail("dense_act_fn", "unsupported activation " + quoted_value(c.dense_act_fn));
  return c;
}

DecoderConfig parse_decoder(const json& j, const std::string& file) {
  Section s(j, file, "decoder.");
  DecoderConfig c;
  c.vocab_size = s.positive("vocab_size");
  c.hidden_size = s.positive("hidden_size");
  c.num_hidden_layers = s.positive("num_hidden_layers");
  c.num_attention_heads = s.positive("num_attention_heads");
  c.ffn_dim = s.positive("ffn_dim");
  c.num_codebooks = s.positive("num_codebooks");
  c.max_position_embeddings = s.integer_or("max_position_embeddings", 2048);
  c.pad_token_id = s.integer_or("pad_token_id", c.vocab_size);
  c.bos_token_id = s.integer_or("bos_token_id", c.pad_token_id);
  c.audio_channels = s.integer_or("audio_channels", 1);
  c.scale_embedding = s.boolean_or("scale_embedding", false);
  c.activation_function = s.string_or("activation_function", "gelu");
  if (c.activation_function != "gelu" && c.activation_function != "gelu_new" &&
      c.activation_function != "relu")
    s.fail("activation_function", "unsupported activation " + quoted_value(c.activation_function));
  if (c.hidden_size % c.num_attention_heads != 0)
    s.fail("num_attention_heads", "does not divide hidden_size");
  // BOS and the delay pattern's pad index the embedding tables (vocab_size + 1 rows).
  if (c.pad_token_id < 0 || c.pad_token_id > c.vocab_size)
    s.fail("pad_token_id", "must lie in [0, vocab_size]");
  if (c.bos_token_id < 0 || c.bos_token_id > c.vocab_size)
    s.fail("bos_token_id", "must lie in [0, vocab_size]");
  if (c.audio_channels != 1 && c.audio_channels != 2)
    s.fail("audio_channels", "must be 1 (mono) or 2 (stereo)");
  if (c.audio_channels == 2 && c.num_codebooks % 2 != 0)
    s.fail("num_codebooks", "stereo checkpoints interleave left/right codebooks: must be even");
  return c;
}

EncodecConfig parse_encodec(const json& j, const std::string& file) {
  Section s(j, file, "audio_encoder.");
  EncodecConfig c;
  c.sampling_rate = s.positive("sampling_rate");
  c.audio_channels = s.integer_or("audio_channels", 1);
  c.num_filters = s.positive("num_filters");
  c.upsampling_ratios = s.int_list("upsampling_ratios");
  int64_t hop = 1;  // hop_length(), without overflowing on the way
  for (int64_t r : c.upsampling_ratios) {
    if (hop > kMaxConfigInt / r)
      s.fail("upsampling_ratios", "multiply to an absurd hop length (above 2^31 samples)");
    hop *= r;
  }
  c.hidden_size = s.positive("hidden_size");
  c.codebook_size = s.positive("codebook_size");
  c.codebook_dim = s.integer_or("codebook_dim", c.hidden_size);
  c.num_lstm_layers = s.integer_or("num_lstm_layers", 2);
  c.num_residual_layers = s.integer_or("num_residual_layers", 1);
  c.kernel_size = s.integer_or("kernel_size", 7);
  c.last_kernel_size = s.integer_or("last_kernel_size", 7);
  c.residual_kernel_size = s.integer_or("residual_kernel_size", 3);
  c.dilation_growth_rate = s.integer_or("dilation_growth_rate", 2);
  c.compress = s.integer_or("compress", 2);
  c.norm_type = s.string_or("norm_type", "weight_norm");
  c.pad_mode = s.string_or("pad_mode", "reflect");
  c.use_causal_conv = s.boolean_or("use_causal_conv", true);
  c.trim_right_ratio = s.number_or("trim_right_ratio", 1.0);
  if (c.norm_type != "weight_norm")
    s.fail("norm_type", "only weight_norm EnCodec checkpoints are supported (MusicGen's)");
  if (c.pad_mode != "reflect" && c.pad_mode != "constant")
    s.fail("pad_mode", "unsupported padding mode " + quoted_value(c.pad_mode));
  return c;
}

}  // namespace

int64_t EncodecConfig::hop_length() const {
  int64_t h = 1;
  for (int64_t r : upsampling_ratios) h *= r;
  return h;
}

MusicgenConfig MusicgenConfig::from_json_text(const std::string& text, const std::string& origin) {
  json root = json::parse(text, nullptr, false);
  if (root.is_discarded() || !root.is_object())
    throw InputError(origin, "", "is not valid JSON", "use the config.json of the checkpoint");
  MusicgenConfig c;
  c.source = origin;
  c.text = parse_t5(section(root, "text_encoder", origin), origin);
  c.decoder = parse_decoder(section(root, "decoder", origin), origin);
  c.audio = parse_encodec(section(root, "audio_encoder", origin), origin);
  if (c.audio.codebook_size != c.decoder.vocab_size)
    throw InputError(
        origin, "audio_encoder.codebook_size",
        "differs from decoder.vocab_size (" + std::to_string(c.decoder.vocab_size) + ")");
  return c;
}

MusicgenConfig MusicgenConfig::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open", "is --model a MusicGen checkpoint folder?");
  std::stringstream ss;
  ss << in.rdbuf();
  return from_json_text(ss.str(), path);
}

std::string MusicgenConfig::to_json_text() const {
  json t = {{"model_type", "t5"},
            {"vocab_size", text.vocab_size},
            {"d_model", text.d_model},
            {"d_kv", text.d_kv},
            {"d_ff", text.d_ff},
            {"num_layers", text.num_layers},
            {"num_heads", text.num_heads},
            {"relative_attention_num_buckets", text.relative_attention_num_buckets},
            {"relative_attention_max_distance", text.relative_attention_max_distance},
            {"layer_norm_epsilon", text.layer_norm_epsilon},
            {"feed_forward_proj", text.gated_ffn ? "gated-gelu" : text.dense_act_fn},
            // Explicit, as transformers writes them: "gated-gelu" alone would read back as
            // gelu_new whatever the activation of a gated FFN is.
            {"dense_act_fn", text.dense_act_fn},
            {"is_gated_act", text.gated_ffn},
            {"is_encoder_decoder", true},
            {"pad_token_id", 0},
            {"eos_token_id", 1}};
  json d = {{"model_type", "musicgen_decoder"},
            {"vocab_size", decoder.vocab_size},
            {"hidden_size", decoder.hidden_size},
            {"num_hidden_layers", decoder.num_hidden_layers},
            {"num_attention_heads", decoder.num_attention_heads},
            {"ffn_dim", decoder.ffn_dim},
            {"num_codebooks", decoder.num_codebooks},
            {"max_position_embeddings", decoder.max_position_embeddings},
            {"pad_token_id", decoder.pad_token_id},
            {"bos_token_id", decoder.bos_token_id},
            {"audio_channels", decoder.audio_channels},
            {"scale_embedding", decoder.scale_embedding},
            {"activation_function", decoder.activation_function}};
  json a = {{"model_type", "encodec"},
            {"sampling_rate", audio.sampling_rate},
            {"audio_channels", audio.audio_channels},
            {"num_filters", audio.num_filters},
            {"upsampling_ratios", audio.upsampling_ratios},
            {"hidden_size", audio.hidden_size},
            {"codebook_size", audio.codebook_size},
            {"codebook_dim", audio.codebook_dim},
            {"num_lstm_layers", audio.num_lstm_layers},
            {"num_residual_layers", audio.num_residual_layers},
            {"kernel_size", audio.kernel_size},
            {"last_kernel_size", audio.last_kernel_size},
            {"residual_kernel_size", audio.residual_kernel_size},
            {"dilation_growth_rate", audio.dilation_growth_rate},
            {"compress", audio.compress},
            {"norm_type", audio.norm_type},
            {"pad_mode", audio.pad_mode},
            {"use_causal_conv", audio.use_causal_conv},
            {"trim_right_ratio", audio.trim_right_ratio},
            {"use_conv_shortcut", false},
            {"normalize", false}};
  json root = {{"architectures", {"MusicgenForConditionalGeneration"}},
               {"model_type", "musicgen"},
               {"is_encoder_decoder", true},
               {"text_encoder", t},
               {"decoder", d},
               {"audio_encoder", a}};
  return root.dump(2);
}

}  // namespace mg
