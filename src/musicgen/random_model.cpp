#include "musicgen/random_model.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "musicgen/errors.h"
#include "musicgen/safetensors.h"
#include "musicgen/sampling.h"
#include "musicgen/tokenizer.h"

namespace mg {
namespace fs = std::filesystem;

MusicgenConfig named_shape(const std::string& name, bool stereo) {
  MusicgenConfig c;
  // T5: the golden fixture's toy encoder for tiny, t5-base for the real sizes.
  auto& t = c.text;
  auto& d = c.decoder;
  auto& a = c.audio;
  if (name == "tiny") {
    t.vocab_size = 256, t.d_model = 32, t.d_kv = 8, t.d_ff = 64, t.num_layers = 2, t.num_heads = 4;
    d.hidden_size = 64, d.num_attention_heads = 4, d.num_hidden_layers = 4, d.ffn_dim = 128;
    d.vocab_size = 64;
    a.num_filters = 4, a.hidden_size = 16, a.codebook_dim = 16;
  } else if (name == "small" || name == "medium" || name == "large") {
    t.vocab_size = 32128, t.d_model = 768, t.d_kv = 64, t.d_ff = 3072, t.num_layers = 12;
    t.num_heads = 12;
    d.vocab_size = 2048;
    if (name == "small") d.hidden_size = 1024, d.num_attention_heads = 16, d.num_hidden_layers = 24;
    if (name == "medium")
      d.hidden_size = 1536, d.num_attention_heads = 24, d.num_hidden_layers = 48;
    if (name == "large") d.hidden_size = 2048, d.num_attention_heads = 32, d.num_hidden_layers = 48;
    d.ffn_dim = 4 * d.hidden_size;
    a.num_filters = 64, a.hidden_size = 128, a.codebook_dim = 128;
  } else {
    throw InputError("--shape", name, "unknown model shape", "use tiny, small, medium or large");
  }
  t.relative_attention_num_buckets = 32, t.relative_attention_max_distance = 128;
  d.num_codebooks = 4, d.max_position_embeddings = 2048;
  d.pad_token_id = d.bos_token_id = d.vocab_size;
  a.sampling_rate = 32000, a.upsampling_ratios = {8, 5, 4, 4}, a.codebook_size = d.vocab_size;
  a.num_lstm_layers = 2, a.num_residual_layers = 1, a.use_causal_conv = false;
  if (stereo) d.audio_channels = 2, d.num_codebooks *= 2;  // the EnCodec stays mono
  return c;
}

namespace {

// Collects tensors, each drawn from its own generator seeded by (seed, name), so
// a tensor's values do not depend on which other tensors exist.
class Writer {
 public:
  Writer(uint64_t seed, at::ScalarType storage) : seed_(seed), storage_(storage) {}

  at::Tensor normal(const std::string& name, at::IntArrayRef shape, double mean, double std) {
    at::Tensor t = at::empty(shape, at::kFloat);
    t.normal_(mean, std, gen(name));
    add(name, t);
    return t;
  }
  void uniform(const std::string& name, at::IntArrayRef shape, double lo, double hi) {
    at::Tensor t = at::empty(shape, at::kFloat);
    t.uniform_(lo, hi, gen(name));
    add(name, t);
  }
  void add(const std::string& name, const at::Tensor& t) {
    names_.push_back(name);
    tensors_.push_back(t.to(storage_).contiguous());
  }
  void save(const std::string& path) const {
    std::vector<StWriteItem> items;
    for (size_t i = 0; i < names_.size(); ++i) {
      const at::Tensor& t = tensors_[i];
      StDtype dt = storage_ == at::kHalf       ? StDtype::F16
                   : storage_ == at::kBFloat16 ? StDtype::BF16
                                               : StDtype::F32;
      items.push_back({names_[i], dt, t.sizes().vec(), t.data_ptr(), t.nbytes()});
    }
    write_safetensors(path, items, {{"format", "pt"}});
  }

 private:
  at::Generator gen(const std::string& name) const {
    return at::make_generator<at::CPUGeneratorImpl>(seed_ ^ row_key_of(name));
  }
  uint64_t seed_;
  at::ScalarType storage_;
  std::vector<std::string> names_;
  std::vector<at::Tensor> tensors_;
};

void layer_norm(Writer& w, const std::string& p, int64_t n) {
  w.normal(p + ".weight", {n}, 1.0, 0.2);
  w.normal(p + ".bias", {n}, 0.0, 0.2);
}

void weight_norm_conv(Writer& w, const std::string& p, int64_t dim0, int64_t dim1, int64_t k,
                      int64_t bias) {
  w.uniform(p + ".weight_g", {dim0, 1, 1}, 0.5, 1.5);
  w.normal(p + ".weight_v", {dim0, dim1, k}, 0.0, 1.0);
  w.normal(p + ".bias", {bias}, 0.0, 0.05);
}

void write_t5(Writer& w, const T5Config& t) {
  const std::string e = "text_encoder.encoder.";
  w.normal("text_encoder.shared.weight", {t.vocab_size, t.d_model}, 0.0, 1.0);
  w.normal(e + "block.0.layer.0.SelfAttention.relative_attention_bias.weight",
           {t.relative_attention_num_buckets, t.num_heads}, 0.0, 0.5);
  const double s = 1.0 / std::sqrt(static_cast<double>(t.d_model));
  for (int64_t i = 0; i < t.num_layers; ++i) {
    const std::string b = e + "block." + std::to_string(i) + ".layer.";
    for (const char* m : {"q", "k", "v"})
      w.normal(b + "0.SelfAttention." + m + ".weight", {t.inner_dim(), t.d_model}, 0.0, s);
    w.normal(b + "0.SelfAttention.o.weight", {t.d_model, t.inner_dim()}, 0.0, s);
    w.normal(b + "0.layer_norm.weight", {t.d_model}, 1.0, 0.2);
    w.normal(b + "1.DenseReluDense.wi.weight", {t.d_ff, t.d_model}, 0.0, s);
    w.normal(b + "1.DenseReluDense.wo.weight", {t.d_model, t.d_ff}, 0.0,
             1.0 / std::sqrt(static_cast<double>(t.d_ff)));
    w.normal(b + "1.layer_norm.weight", {t.d_model}, 1.0, 0.2);
  }
  w.normal(e + "final_layer_norm.weight", {t.d_model}, 1.0, 0.2);
}

void write_decoder(Writer& w, const MusicgenConfig& c) {
  const DecoderConfig& d = c.decoder;
  const int64_t H = d.hidden_size;
  const double s = 1.0 / std::sqrt(static_cast<double>(H));
  w.normal("enc_to_dec_proj.weight", {H, c.text.d_model}, 0.0,
           1.0 / std::sqrt(static_cast<double>(c.text.d_model)));
  w.normal("enc_to_dec_proj.bias", {H}, 0.0, 0.1);
  const std::string m = "decoder.model.decoder.";
  for (int64_t k = 0; k < d.num_codebooks; ++k) {
    w.normal(m + "embed_tokens." + std::to_string(k) + ".weight", {d.vocab_size + 1, H}, 0.0, 1.0);
    // Heads scaled up (as in the golden fixture) so that greedy margins are wide.
    w.normal("decoder.lm_heads." + std::to_string(k) + ".weight", {d.vocab_size, H}, 0.0, 3.0 * s);
  }
  for (int64_t i = 0; i < d.num_hidden_layers; ++i) {
    const std::string p = m + "layers." + std::to_string(i) + ".";
    for (const char* a : {"self_attn", "encoder_attn"}) {
      for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"})
        w.normal(p + a + "." + proj + ".weight", {H, H}, 0.0, s);
      layer_norm(w, p + a + "_layer_norm", H);
    }
    w.normal(p + "fc1.weight", {d.ffn_dim, H}, 0.0, s);
    w.normal(p + "fc2.weight", {H, d.ffn_dim}, 0.0,
             1.0 / std::sqrt(static_cast<double>(d.ffn_dim)));
    layer_norm(w, p + "final_layer_norm", H);
  }
  layer_norm(w, m + "layer_norm", H);
}

// HF's EncodecLSTM (one in the encoder, one in the decoder): stacked nn.LSTM layers of width dim.
void lstm(Writer& w, const std::string& p, const EncodecConfig& a, int64_t dim) {
  for (int64_t l = 0; l < a.num_lstm_layers; ++l) {
    const std::string n = std::to_string(l);
    const double s = 1.0 / std::sqrt(static_cast<double>(dim));
    w.uniform(p + "weight_ih_l" + n, {4 * dim, dim}, -s, s);
    w.uniform(p + "weight_hh_l" + n, {4 * dim, dim}, -s, s);
    w.uniform(p + "bias_ih_l" + n, {4 * dim}, -s, s);
    w.uniform(p + "bias_hh_l" + n, {4 * dim}, -s, s);
  }
}

// The decoder half of EnCodec, numbered as HF's EncodecDecoder numbers its modules,
// and the codebooks with the buffers HF's EncodecEuclideanCodebook keeps (embed_avg,
// cluster_size, inited: training state, consistent with a trained codebook).
void write_encodec(Writer& w, const EncodecConfig& a, int64_t num_quantizers) {
  const std::string p = "audio_encoder.";
  for (int64_t k = 0; k < num_quantizers; ++k) {
    const std::string q = p + "quantizer.layers." + std::to_string(k) + ".codebook.";
    at::Tensor embed = w.normal(q + "embed", {a.codebook_size, a.codebook_dim}, 0.0, 1.0);
    w.add(q + "embed_avg", embed);
    w.add(q + "cluster_size", at::ones({a.codebook_size}, at::kFloat));
    w.add(q + "inited", at::ones({1}, at::kFloat));
  }
  int64_t dim = a.num_filters << a.upsampling_ratios.size();
  int64_t idx = 0;
  auto layer = [&](int64_t i) { return p + "decoder.layers." + std::to_string(i); };
  weight_norm_conv(w, layer(idx++) + ".conv", dim, a.hidden_size, a.kernel_size, dim);
  lstm(w, layer(idx++) + ".lstm.", a, dim);
  for (int64_t r : a.upsampling_ratios) {
    ++idx;  // ELU
    // ConvTranspose1d weight is [in, out, k]: the weight-norm gain is per input channel.
    weight_norm_conv(w, layer(idx++) + ".conv", dim, dim / 2, 2 * r, dim / 2);
    dim /= 2;
    for (int64_t j = 0; j < a.num_residual_layers; ++j) {
      const std::string b = layer(idx++) + ".block.";
      weight_norm_conv(w, b + "1.conv", dim / a.compress, dim, a.residual_kernel_size,
                       dim / a.compress);
      weight_norm_conv(w, b + "3.conv", dim, dim / a.compress, 1, dim);
    }
  }
  ++idx;  // ELU
  weight_norm_conv(w, layer(idx) + ".conv", a.audio_channels, dim, a.last_kernel_size,
                   a.audio_channels);
}

// The encoder half (audio -> latent), numbered as HF's EncodecEncoder numbers its
// modules. mgsweep never encodes audio: these exist so that transformers loads the
// checkpoint without missing weights (tests/hf_diff/check_make_model.py).
void write_encodec_encoder(Writer& w, const EncodecConfig& a) {
  auto layer = [&](int64_t i) { return "audio_encoder.encoder.layers." + std::to_string(i); };
  int64_t idx = 0;
  int64_t dim = a.num_filters;
  weight_norm_conv(w, layer(idx++) + ".conv", dim, a.audio_channels, a.kernel_size, dim);
  for (auto r = a.upsampling_ratios.rbegin(); r != a.upsampling_ratios.rend(); ++r) {
    for (int64_t j = 0; j < a.num_residual_layers; ++j) {
      const std::string b = layer(idx++) + ".block.";
      weight_norm_conv(w, b + "1.conv", dim / a.compress, dim, a.residual_kernel_size,
                       dim / a.compress);
      weight_norm_conv(w, b + "3.conv", dim, dim / a.compress, 1, dim);
    }
    ++idx;  // ELU
    weight_norm_conv(w, layer(idx++) + ".conv", 2 * dim, dim, 2 * *r, 2 * dim);
    dim *= 2;
  }
  lstm(w, layer(idx++) + ".lstm.", a, dim);
  ++idx;  // ELU
  weight_norm_conv(w, layer(idx) + ".conv", a.hidden_size, dim, a.last_kernel_size, a.hidden_size);
}

// transformers builds num_quantizers = 1000 * target_bandwidths[-1] // (frame_rate *
// ceil(log2(codebook_size))) quantizer layers (transformers 5; 4.x divides by
// frame_rate * 10 instead). Without the key it takes its default 24 kbps: 80 layers for
// the tiny shape, 76 of them missing from the checkpoint. The middle of the bucket
// that gives exactly `num_quantizers` keeps float rounding away from its edges.
double target_bandwidth(const EncodecConfig& a, int64_t num_quantizers) {
  const double frame_rate =
      std::ceil(static_cast<double>(a.sampling_rate) / static_cast<double>(a.hop_length()));
  const double bits = std::ceil(std::log2(static_cast<double>(a.codebook_size)));
  return (static_cast<double>(num_quantizers) + 0.5) * frame_rate * bits / 1000.0;
}

void write_json(const fs::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) throw InputError(path.parent_path().string(), path.filename().string(), "cannot write");
}

}  // namespace

void write_random_model(const MusicgenConfig& cfg, uint64_t seed, const std::string& dir,
                        at::ScalarType storage) {
  fs::create_directories(dir);
  // EnCodec is mono: a stereo decoder's codebooks are two interleaved sets of Q.
  const int64_t num_quantizers = cfg.decoder.num_codebooks / cfg.decoder.audio_channels;
  nlohmann::json config = nlohmann::json::parse(cfg.to_json_text());
  config["audio_encoder"]["target_bandwidths"] = {target_bandwidth(cfg.audio, num_quantizers)};
  config["audio_encoder"]["chunk_length_s"] = nullptr;  // one chunk, as MusicGen decodes
  config["audio_encoder"]["overlap"] = nullptr;
  write_json(fs::path(dir) / "config.json", config);
  // As transformers' convert_musicgen_transformers.py writes it: generate() needs the
  // special id as decoder start and pad (the delay pattern); mgsweep reads none of it.
  write_json(fs::path(dir) / "generation_config.json",
             {{"bos_token_id", cfg.decoder.bos_token_id},
              {"decoder_start_token_id", cfg.decoder.pad_token_id},
              {"pad_token_id", cfg.decoder.pad_token_id},
              {"do_sample", true},
              {"guidance_scale", 3.0},
              {"max_length", 1500}});
  write_synthetic_t5_tokenizer_json((fs::path(dir) / "tokenizer.json").string(),
                                    cfg.text.vocab_size);
  Writer w(seed, storage);
  write_t5(w, cfg.text);
  write_decoder(w, cfg);
  write_encodec(w, cfg.audio, num_quantizers);
  write_encodec_encoder(w, cfg.audio);
  w.save((fs::path(dir) / "model.safetensors").string());
}

}  // namespace mg
