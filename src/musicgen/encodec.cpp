#include "musicgen/encodec.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <tuple>

#include "musicgen/errors.h"
#include "musicgen/row_parallel.h"

namespace mg {
namespace {

// EncodecConfig does not remember its file; config errors name the usual one.
constexpr const char* kConfigFile = "config.json";

void require_config(bool ok, const std::string& field, const std::string& problem) {
  if (!ok) throw InputError(kConfigFile, "audio_encoder." + field, problem);
}

std::string shape_str(at::IntArrayRef s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += std::to_string(s[i]);
  }
  return r + "]";
}

// Stride-1 convs with at most this many output channels run as shifted matmuls on the CPU.
constexpr int64_t kMatmulConvMaxOut = 16;

// F.pad(x, (left, right), mode) as HF's EncodecConv1d._pad1d does it: for "reflect" on an
// input no longer than the padding, zeros are appended first so that reflection is defined,
// and as many samples are cut from the end afterwards.
at::Tensor pad1d(const at::Tensor& x, int64_t left, int64_t right, bool reflect) {
  if (left == 0 && right == 0) return x;
  if (!reflect) return at::constant_pad_nd(x, {left, right}, 0);
  const int64_t length = x.size(-1);
  const int64_t max_pad = std::max(left, right);
  if (length > max_pad) return at::reflection_pad1d(x, {left, right});
  const int64_t extra = max_pad - length + 1;
  at::Tensor padded = at::reflection_pad1d(at::constant_pad_nd(x, {0, extra}, 0), {left, right});
  return padded.narrow(-1, 0, padded.size(-1) - extra);
}

}  // namespace

EncodecDecoder::EncodecDecoder(const EncodecConfig& cfg, const Weights& weights,
                               const at::TensorOptions& options, const std::string& prefix,
                               int64_t num_codebooks)
    : cfg_(cfg), options_(options) {
  // --- config sanity (everything below is derived from it) ---
  require_config(!cfg.upsampling_ratios.empty(), "upsampling_ratios", "is empty");
  for (int64_t r : cfg.upsampling_ratios)
    require_config(r > 0, "upsampling_ratios", "holds a non-positive ratio");
  require_config(cfg.audio_channels > 0, "audio_channels", "must be positive");
  require_config(cfg.num_filters > 0, "num_filters", "must be positive");
  require_config(cfg.hidden_size > 0, "hidden_size", "must be positive");
  require_config(cfg.codebook_size > 0, "codebook_size", "must be positive");
  require_config(cfg.codebook_dim == cfg.hidden_size, "codebook_dim",
                 "differs from hidden_size (" + std::to_string(cfg.hidden_size) +
                     "); EnCodec checkpoints with a quantizer projection are not supported");
  require_config(cfg.num_lstm_layers > 0, "num_lstm_layers", "must be at least 1");
  require_config(cfg.num_residual_layers >= 0, "num_residual_layers", "must not be negative");
  require_config(cfg.kernel_size > 0, "kernel_size", "must be positive");
  require_config(cfg.last_kernel_size > 0, "last_kernel_size", "must be positive");
  require_config(cfg.residual_kernel_size > 0, "residual_kernel_size", "must be positive");
  require_config(cfg.dilation_growth_rate > 0, "dilation_growth_rate", "must be positive");
  require_config(cfg.compress > 0, "compress", "must be positive");
  require_config(cfg.pad_mode == "reflect" || cfg.pad_mode == "constant", "pad_mode",
                 "unsupported padding mode '" + cfg.pad_mode + "'");
  require_config(cfg.trim_right_ratio >= 0.0 && cfg.trim_right_ratio <= 1.0, "trim_right_ratio",
                 "must lie in [0, 1]");
  require_config(cfg.use_causal_conv || cfg.trim_right_ratio == 1.0, "trim_right_ratio",
                 "!= 1.0 only makes sense for causal convolutions (use_causal_conv = true)");

  // --- quantizer codebooks ---
  const std::string q_prefix = prefix + "quantizer.layers.";
  const std::string q_suffix = ".codebook.embed";
  auto codebook_name = [&](int64_t k) { return q_prefix + std::to_string(k) + q_suffix; };
  if (num_codebooks <= 0) {
    int64_t found = 0;
    for (const std::string& n : weights.names()) {
      if (n.compare(0, q_prefix.size(), q_prefix) != 0) continue;
      const size_t dot = n.find('.', q_prefix.size());
      if (dot == std::string::npos || n.substr(dot) != q_suffix) continue;
      const std::string idx = n.substr(q_prefix.size(), dot - q_prefix.size());
      if (idx.empty() || idx.size() > 6 || idx.find_first_not_of("0123456789") != std::string::npos)
        continue;
      found = std::max<int64_t>(found, std::stoll(idx) + 1);
    }
    num_codebooks = std::max<int64_t>(found, 1);  // none found: asking for #0 names what is missing
  }
  num_codebooks_ = num_codebooks;
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(at::kCPU);
  std::vector<at::Tensor> books;
  for (int64_t k = 0; k < num_codebooks_; ++k)
    books.push_back(weights.get(codebook_name(k), {cfg.codebook_size, cfg.codebook_dim}, f32));
  codebooks_ = at::cat(books, 0).to(options_).contiguous();

  // --- SEANet decoder, numbered as HF's EncodecDecoder.__init__ appends its modules ---
  const std::string d_prefix = prefix + "decoder.layers.";
  auto layer = [&](int64_t i) { return d_prefix + std::to_string(i) + "."; };
  const int64_t n_ratios = static_cast<int64_t>(cfg.upsampling_ratios.size());
  require_config(n_ratios < 62, "upsampling_ratios", "has too many entries");
  int64_t scaling = int64_t{1} << n_ratios;
  int64_t idx = 0;
  first_ = load_conv(weights, layer(idx++) + "conv", cfg.hidden_size, scaling * cfg.num_filters,
                     cfg.kernel_size, 1);

  lstm_dim_ = scaling * cfg.num_filters;
  {
    const std::string base = layer(idx++) + "lstm.";
    const int64_t h = lstm_dim_;
    for (int64_t l = 0; l < cfg.num_lstm_layers; ++l) {
      const std::string s = std::to_string(l);
      lstm_params_.push_back(weights.get(base + "weight_ih_l" + s, {4 * h, h}, f32).to(options_));
      lstm_params_.push_back(weights.get(base + "weight_hh_l" + s, {4 * h, h}, f32).to(options_));
      lstm_params_.push_back(weights.get(base + "bias_ih_l" + s, {4 * h}, f32).to(options_));
      lstm_params_.push_back(weights.get(base + "bias_hh_l" + s, {4 * h}, f32).to(options_));
    }
    // On CUDA, lay the LSTM weights out in cuDNN's packed buffer once (what nn.LSTM's
    // flatten_parameters does); otherwise cuDNN copies them into one on every call.
    if (options_.device().is_cuda()) {
      try {
        constexpr int64_t kCudnnLstmMode = 2;  // CUDNN_LSTM
        at::_cudnn_rnn_flatten_weight(lstm_params_, 4, h, kCudnnLstmMode, h, 0, cfg.num_lstm_layers,
                                      false, false);
      } catch (const std::exception&) {
        // No cuDNN (or it refuses the dtype): at::lstm still works on the separate tensors.
      }
    }
  }

  for (int64_t ratio : cfg.upsampling_ratios) {
    const int64_t cur = scaling * cfg.num_filters;
    const int64_t out = cur / 2;
    require_config(out > 0, "num_filters", "too small for the number of upsampling ratios");
    ++idx;  // ELU
    Stage st;
    st.up = load_conv_transpose(weights, layer(idx++) + "conv", cur, out, 2 * ratio, ratio);
    const int64_t hidden = out / cfg.compress;
    require_config(hidden > 0, "compress", "leaves a residual block with no channels");
    int64_t dilation = 1;
    for (int64_t j = 0; j < cfg.num_residual_layers; ++j) {
      const std::string base = layer(idx++);
      ResBlock b;
      b.conv1 = load_conv(weights, base + "block.1.conv", out, hidden, cfg.residual_kernel_size,
                          dilation);
      b.conv2 = load_conv(weights, base + "block.3.conv", hidden, out, 1, 1);
      // HF: use_conv_shortcut (default true) adds a k=1 conv; MusicGen's EnCodec has
      // true_skip = identity. EncodecConfig does not carry the flag: the weights decide.
      const std::string sc = base + "shortcut.conv";
      b.has_shortcut = weights.has(sc + ".weight_g") || weights.has(sc + ".weight") ||
                       weights.has(sc + ".parametrizations.weight.original0");
      if (b.has_shortcut) b.shortcut = load_conv(weights, sc, out, out, 1, 1);
      st.blocks.push_back(std::move(b));
      dilation *= cfg.dilation_growth_rate;
    }
    stages_.push_back(std::move(st));
    scaling /= 2;
  }
  ++idx;  // ELU
  last_ = load_conv(weights, layer(idx) + "conv", cfg.num_filters, cfg.audio_channels,
                    cfg.last_kernel_size, 1);
}

at::Tensor EncodecDecoder::load_weight_norm(const Weights& w, const std::string& name,
                                            at::IntArrayRef shape) const {
  const auto f32 = at::TensorOptions().dtype(at::kFloat).device(at::kCPU);
  const std::vector<std::string> g_names = {name + ".weight_g",
                                            name + ".parametrizations.weight.original0"};
  const std::vector<std::string> v_names = {name + ".weight_v",
                                            name + ".parametrizations.weight.original1"};
  const bool has_g = w.has(g_names[0]) || w.has(g_names[1]);
  if (!has_g && w.has(name + ".weight"))  // weight norm already removed by an exporter
    return w.get(name + ".weight", shape, f32).to(options_).contiguous();
  // w = g * v / ||v||, the norm over every dim but 0 (for ConvTranspose1d dim 0 = in_channels).
  at::Tensor g = w.get_alias(g_names, {shape[0], 1, 1}, f32);
  at::Tensor v = w.get_alias(v_names, shape, f32);
  at::Tensor norm = v.pow(2).sum({1, 2}, /*keepdim=*/true).sqrt();
  return (v * (g / norm)).to(options_).contiguous();
}

EncodecDecoder::Conv EncodecDecoder::load_conv(const Weights& w, const std::string& name,
                                               int64_t in, int64_t out, int64_t k,
                                               int64_t dilation) const {
  Conv c;
  c.weight = load_weight_norm(w, name, {out, in, k});
  c.bias = w.get(name + ".bias", {out}, at::TensorOptions().dtype(at::kFloat)).to(options_);
  c.dilation = dilation;
  // float32/64 only: in bfloat16/float16 the k partial sums would each be rounded.
  const auto dt = options_.dtype().toScalarType();
  if (options_.device().is_cpu() && (dt == at::kFloat || dt == at::kDouble) &&
      out <= kMatmulConvMaxOut)
    c.taps = c.weight.permute({2, 0, 1}).contiguous();
  const int64_t total = (k - 1) * dilation;  // effective kernel - stride (stride 1)
  if (cfg_.use_causal_conv) {
    c.pad_left = total;
    c.pad_right = 0;
  } else {
    c.pad_right = total / 2;
    c.pad_left = total - c.pad_right;
  }
  return c;
}

EncodecDecoder::ConvTranspose EncodecDecoder::load_conv_transpose(const Weights& w,
                                                                  const std::string& name,
                                                                  int64_t in, int64_t out,
                                                                  int64_t k, int64_t stride) const {
  ConvTranspose c;
  c.weight = load_weight_norm(w, name, {in, out, k});
  c.bias = w.get(name + ".bias", {out}, at::TensorOptions().dtype(at::kFloat)).to(options_);
  c.stride = stride;
  const int64_t total = k - stride;
  const int64_t right =
      cfg_.use_causal_conv
          ? static_cast<int64_t>(std::ceil(static_cast<double>(total) * cfg_.trim_right_ratio))
          : total / 2;
  const int64_t left = total - right;
  // conv_transpose1d's `padding` crops the same amount from both ends; the rest by hand.
  c.padding = std::max<int64_t>(0, std::min(left, right));
  c.trim_left = left - c.padding;
  c.trim_right = right - c.padding;
  return c;
}

at::Tensor EncodecDecoder::conv(const Conv& c, const at::Tensor& x) const {
  if (c.taps.defined()) {
    at::Tensor xp = pad1d(x, c.pad_left, c.pad_right, cfg_.pad_mode == "reflect");
    const int64_t k = c.taps.size(0);
    const int64_t len = xp.size(-1) - (k - 1) * c.dilation;
    at::Tensor y = at::matmul(c.taps[0], xp.narrow(-1, 0, len));
    y.add_(c.bias.view({1, -1, 1}));
    for (int64_t j = 1; j < k; ++j)
      y.add_(at::matmul(c.taps[j], xp.narrow(-1, j * c.dilation, len)));
    return y;
  }
  if (cfg_.pad_mode == "constant") {
    // Zero padding: the symmetric part is the convolution's own padding.
    const int64_t p = std::min(c.pad_left, c.pad_right);
    at::Tensor xp = pad1d(x, c.pad_left - p, c.pad_right - p, /*reflect=*/false);
    return at::conv1d(xp, c.weight, c.bias, at::IntArrayRef{1}, at::IntArrayRef{p},
                      at::IntArrayRef{c.dilation});
  }
  at::Tensor xp = pad1d(x, c.pad_left, c.pad_right, /*reflect=*/true);
  return at::conv1d(xp, c.weight, c.bias, at::IntArrayRef{1}, at::IntArrayRef{0},
                    at::IntArrayRef{c.dilation});
}

at::Tensor EncodecDecoder::conv_transpose(const ConvTranspose& c, const at::Tensor& x) const {
  at::Tensor y = at::conv_transpose1d(x, c.weight, c.bias, at::IntArrayRef{c.stride},
                                      at::IntArrayRef{c.padding}, /*output_padding=*/0,
                                      /*groups=*/1, /*dilation=*/1);
  if (c.trim_left == 0 && c.trim_right == 0) return y;
  return y.narrow(-1, c.trim_left, y.size(-1) - c.trim_left - c.trim_right);
}

at::Tensor EncodecDecoder::lstm(const at::Tensor& x) const {
  // [B, C, T] -> [T, B, C]; y = lstm(x) + x; back to [B, C, T].
  at::Tensor seq = x.permute({2, 0, 1}).contiguous();
  const int64_t batch = seq.size(1);
  at::Tensor h0 = at::zeros({cfg_.num_lstm_layers, batch, lstm_dim_}, seq.options());
  at::Tensor out = std::get<0>(at::lstm(seq, {h0, h0}, lstm_params_, /*has_biases=*/true,
                                        cfg_.num_lstm_layers, /*dropout=*/0.0, /*train=*/false,
                                        /*bidirectional=*/false, /*batch_first=*/false));
  out.add_(seq);
  return out.permute({1, 2, 0}).contiguous();
}

at::Tensor EncodecDecoder::decode_latent(const at::Tensor& codes) const {
  if (codes.dim() != 3)
    throw std::invalid_argument("EncodecDecoder: codes must be [B, K, T], got " +
                                shape_str(codes.sizes()));
  if (at::isFloatingType(codes.scalar_type()) || codes.scalar_type() == at::kBool ||
      at::isComplexType(codes.scalar_type()))
    throw std::invalid_argument("EncodecDecoder: codes must be an integer tensor");
  const int64_t k = codes.size(1);
  if (k < 1 || k > num_codebooks_)
    throw std::invalid_argument("EncodecDecoder: codes have " + std::to_string(k) +
                                " codebooks, the checkpoint has " + std::to_string(num_codebooks_));
  if (codes.size(2) < 1) throw std::invalid_argument("EncodecDecoder: codes have no frames");
  const int64_t size = cfg_.codebook_size;
  at::Tensor c = codes.to(codebooks_.device(), at::kLong);
  // Out-of-range codes would silently read a neighbouring codebook (CPU) or trip a device
  // assert (CUDA): one check per batch.
  if (at::logical_or(c < 0, c >= size).any().item<bool>())
    throw std::invalid_argument("EncodecDecoder: codes outside [0, " + std::to_string(size) + ")");
  // One gather over the stacked codebooks: row k*size + code.
  at::Tensor offsets = at::arange(k, c.options()).mul_(size).view({1, k, 1});
  at::Tensor emb = at::embedding(codebooks_, c + offsets);  // [B, K, T, D]
  return emb.sum(1).transpose(1, 2).contiguous();           // [B, D, T]
}

at::Tensor EncodecDecoder::decode_from_latent(const at::Tensor& latent) const {
  if (latent.dim() != 3 || latent.size(1) != cfg_.hidden_size || latent.size(2) < 1)
    throw std::invalid_argument("EncodecDecoder: latent must be [B, " +
                                std::to_string(cfg_.hidden_size) + ", T>0], got " +
                                shape_str(latent.sizes()));
  at::Tensor x = conv(first_, latent.to(options_));
  x = lstm(x);
  for (const Stage& st : stages_) {
    at::elu_(x);
    x = conv_transpose(st.up, x);
    for (const ResBlock& b : st.blocks) {
      at::Tensor h = conv(b.conv1, at::elu(x));
      at::elu_(h);
      h = conv(b.conv2, h);
      if (b.has_shortcut)
        h.add_(conv(b.shortcut, x));
      else
        h.add_(x);
      x = std::move(h);
    }
  }
  at::elu_(x);
  return conv(last_, x);
}

at::Tensor EncodecDecoder::decode(const at::Tensor& codes) const {
  // The codebook lookup (a gather, exact) and its checks once for the batch; the SEANet
  // decoder, whose convolutions split by thread count, row by row on CPU.
  const at::Tensor latent = decode_latent(codes);
  return for_each_row(
      latent.size(0), options_.device(),
      [&](int64_t i) { return decode_from_latent(latent.narrow(0, i, 1)); },
      [&] { return decode_from_latent(latent); });
}

}  // namespace mg
