#include "musicgen/t5_encoder.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "musicgen/row_parallel.h"

namespace mg {

at::Tensor t5_relative_buckets(const at::Tensor& rel, int64_t num_buckets, int64_t max_distance) {
  // Half the buckets per direction; within a direction distances below a quarter of
  // the buckets are exact, larger ones are log-spaced up to max_distance. The log is
  // taken in float32 and truncated toward zero, as T5 was trained with.
  const int64_t half = num_buckets / 2;
  at::Tensor bucket = (rel > 0).to(at::kLong) * half;
  at::Tensor n = rel.abs();
  const int64_t max_exact = half / 2;
  at::Tensor is_small = n < max_exact;
  at::Tensor large =
      max_exact + (at::log(n.to(at::kFloat) / static_cast<float>(max_exact)) /
                   std::log(static_cast<float>(max_distance) / static_cast<float>(max_exact)) *
                   static_cast<float>(half - max_exact))
                      .to(at::kLong);
  large = at::clamp_max(large, half - 1);
  return bucket + at::where(is_small, n, large);
}

T5Encoder::T5Encoder(const T5Config& cfg, const Weights& w, at::Device device,
                     const std::string& prefix)
    : cfg_(cfg) {
  const auto opt = at::TensorOptions().dtype(at::kFloat).device(device);
  const int64_t d = cfg.d_model, inner = cfg.inner_dim(), ff = cfg.d_ff;
  // The tied embedding is stored once; exports differ in which name they keep.
  embed_ = w.get_alias({prefix + "shared.weight", prefix + "encoder.embed_tokens.weight"},
                       {cfg.vocab_size, d}, opt);
  relative_bias_ =
      w.get(prefix + "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
            {cfg.relative_attention_num_buckets, cfg.num_heads}, opt);
  for (int64_t i = 0; i < cfg.num_layers; ++i) {
    const std::string b = prefix + "encoder.block." + std::to_string(i) + ".";
    Block blk;
    blk.ln_attn = w.get(b + "layer.0.layer_norm.weight", {d}, opt);
    blk.q = w.get(b + "layer.0.SelfAttention.q.weight", {inner, d}, opt);
    blk.k = w.get(b + "layer.0.SelfAttention.k.weight", {inner, d}, opt);
    blk.v = w.get(b + "layer.0.SelfAttention.v.weight", {inner, d}, opt);
    blk.o = w.get(b + "layer.0.SelfAttention.o.weight", {d, inner}, opt);
    blk.ln_ff = w.get(b + "layer.1.layer_norm.weight", {d}, opt);
    if (cfg.gated_ffn) {
      blk.wi = w.get(b + "layer.1.DenseReluDense.wi_0.weight", {ff, d}, opt);
      blk.wi_1 = w.get(b + "layer.1.DenseReluDense.wi_1.weight", {ff, d}, opt);
    } else {
      blk.wi = w.get(b + "layer.1.DenseReluDense.wi.weight", {ff, d}, opt);
    }
    blk.wo = w.get(b + "layer.1.DenseReluDense.wo.weight", {d, ff}, opt);
    blocks_.push_back(std::move(blk));
  }
  final_ln_ = w.get(prefix + "encoder.final_layer_norm.weight", {d}, opt);
}

at::Tensor T5Encoder::rms_norm(const at::Tensor& x, const at::Tensor& w) const {
  // No mean subtraction and no bias: T5's LayerNorm is a root-mean-square scale.
  at::Tensor var = x.pow(2).mean(-1, /*keepdim=*/true);
  return w * (x * at::rsqrt(var + cfg_.layer_norm_epsilon));
}

at::Tensor T5Encoder::activation(const at::Tensor& x) const {
  const std::string& a = cfg_.dense_act_fn;
  if (a == "relu") return at::relu(x);
  if (a == "gelu_new") return at::gelu(x, "tanh");
  if (a == "gelu") return at::gelu(x);
  return at::silu(x);
}

at::Tensor T5Encoder::position_bias(int64_t len) const {
  const auto lopt = at::TensorOptions().dtype(at::kLong).device(embed_.device());
  at::Tensor pos = at::arange(len, lopt);
  at::Tensor rel = pos.unsqueeze(0) - pos.unsqueeze(1);  // [query, key] = key - query
  at::Tensor buckets = t5_relative_buckets(rel, cfg_.relative_attention_num_buckets,
                                           cfg_.relative_attention_max_distance);
  // [L, L, heads] -> [1, heads, L, L]
  return at::embedding(relative_bias_, buckets).permute({2, 0, 1}).unsqueeze(0);
}

at::Tensor T5Encoder::forward(const at::Tensor& ids, const at::Tensor& mask) const {
  if (ids.dim() != 2 || mask.sizes() != ids.sizes())
    throw std::invalid_argument("T5Encoder: ids and mask must both be [B, L]");
  return for_each_row(
      ids.size(0), embed_.device(),
      [&](int64_t i) { return forward_batch(ids.narrow(0, i, 1), mask.narrow(0, i, 1)); },
      [&] { return forward_batch(ids, mask); });
}

at::Tensor T5Encoder::forward_batch(const at::Tensor& ids_in, const at::Tensor& mask_in) const {
  const at::Device dev = embed_.device();
  at::Tensor ids = ids_in.to(dev, at::kLong);
  at::Tensor mask = mask_in.to(dev, at::kFloat);
  const int64_t B = ids.size(0), L = ids.size(1), H = cfg_.num_heads, dk = cfg_.d_kv;
  // Padded keys get the most negative float added, exactly as the reference does
  // (not -inf: a row whose keys are all padding still gets a finite softmax).
  at::Tensor bias =
      position_bias(L) + ((1.0f - mask) * std::numeric_limits<float>::lowest()).view({B, 1, 1, L});
  at::Tensor x = at::embedding(embed_, ids);
  auto heads = [&](const at::Tensor& t) { return t.view({B, L, H, dk}).transpose(1, 2); };
  for (const Block& blk : blocks_) {
    at::Tensor h = rms_norm(x, blk.ln_attn);
    at::Tensor q = heads(at::linear(h, blk.q));
    at::Tensor k = heads(at::linear(h, blk.k));
    at::Tensor v = heads(at::linear(h, blk.v));
    at::Tensor scores = at::matmul(q, k.transpose(-1, -2)) + bias;  // T5: no 1/sqrt(d) scale
    at::Tensor attn = at::matmul(at::softmax(scores, -1), v);
    x = x + at::linear(attn.transpose(1, 2).reshape({B, L, H * dk}), blk.o);
    h = rms_norm(x, blk.ln_ff);
    at::Tensor f = cfg_.gated_ffn ? activation(at::linear(h, blk.wi)) * at::linear(h, blk.wi_1)
                                  : activation(at::linear(h, blk.wi));
    x = x + at::linear(f, blk.wo);
  }
  return rms_norm(x, final_ln_);
}

}  // namespace mg
