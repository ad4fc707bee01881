#include "musicgen/lm_decoder.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "kernels/decode_attention.h"
#include "musicgen/cpu_attention.h"
#include "musicgen/errors.h"
#include "musicgen/huge_pages.h"

namespace mg {
namespace {
// SDPA treats a present-but-undefined mask as a mask; pass none instead.
std::optional<at::Tensor> optional(const at::Tensor& t) {
  return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
}
}  // namespace

at::Tensor sinusoidal_positions(int64_t count, int64_t dim) {
  const int64_t half = dim / 2;
  const double step = std::log(10000.0) / static_cast<double>(half - 1);
  at::Tensor freq = at::exp(at::arange(half, at::kFloat) * static_cast<float>(-step));
  at::Tensor arg = at::arange(count, at::kFloat).unsqueeze(1) * freq.unsqueeze(0);
  at::Tensor table = at::cat({at::cos(arg), at::sin(arg)}, 1);
  if (dim % 2 == 1) table = at::cat({table, at::zeros({count, 1})}, 1);
  return table;
}

LmDecoder::LmDecoder(const DecoderConfig& cfg, const Weights& w, const at::TensorOptions& options,
                     const std::string& prefix, CpuGemm gemm)
    : cfg_(cfg),
      opt_(options),
      cpu_kernels_(uses_packed_gemm(gemm, options) &&
                   kernels::decode_attention_available(cfg.head_dim())) {
  const int64_t H = cfg.hidden_size, K = cfg.num_codebooks, V = cfg.vocab_size, F = cfg.ffn_dim;
  const std::string m = prefix + "model.decoder.";
  // Projection weights go to Linear as stored (the checkpoint's mapping): it packs them
  // straight from there, or copies them for ATen, with no intermediate copy either way.
  const auto proj = [&](const std::vector<std::string>& names, int64_t rows, int64_t cols) {
    std::vector<at::Tensor> parts;
    for (const auto& n : names) parts.push_back(w.get_readonly(n, {rows, cols}));
    return Linear(parts, opt_, gemm);
  };
  std::vector<at::Tensor> tables;
  std::vector<std::string> heads;
  for (int64_t k = 0; k < K; ++k) {
    tables.push_back(w.get(m + "embed_tokens." + std::to_string(k) + ".weight", {V + 1, H}, opt_));
    heads.push_back(prefix + "lm_heads." + std::to_string(k) + ".weight");
  }
  embed_ = at::cat(tables, 0);
  heads_ = proj(heads, V, H);
  // HF stores the table it computed (in float32); use it when present so that we
  // agree with it bit for bit, else compute the same formula.
  const std::string pos_name = m + "embed_positions.weights";
  if (w.has(pos_name))
    positions_ = w.get_unchecked(pos_name, opt_);
  else
    positions_ = sinusoidal_positions(cfg.max_position_embeddings, H).to(opt_);
  if (positions_.dim() != 2 || positions_.size(1) != H)
    throw InputError(w.origin(), pos_name, "has the wrong width for hidden_size");
  for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
    const std::string p = m + "layers." + std::to_string(i) + ".";
    Layer l;
    l.ln1_w = w.get(p + "self_attn_layer_norm.weight", {H}, opt_);
    l.ln1_b = w.get(p + "self_attn_layer_norm.bias", {H}, opt_);
    l.qkv = proj({p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                  p + "self_attn.v_proj.weight"},
                 H, H);
    l.self_out = proj({p + "self_attn.out_proj.weight"}, H, H);
    l.ln_cross_w = w.get(p + "encoder_attn_layer_norm.weight", {H}, opt_);
    l.ln_cross_b = w.get(p + "encoder_attn_layer_norm.bias", {H}, opt_);
    l.cross_q = proj({p + "encoder_attn.q_proj.weight"}, H, H);
    l.cross_kv = proj({p + "encoder_attn.k_proj.weight", p + "encoder_attn.v_proj.weight"}, H, H);
    l.cross_out = proj({p + "encoder_attn.out_proj.weight"}, H, H);
    l.ln2_w = w.get(p + "final_layer_norm.weight", {H}, opt_);
    l.ln2_b = w.get(p + "final_layer_norm.bias", {H}, opt_);
    l.fc1 = proj({p + "fc1.weight"}, F, H);
    l.fc2 = proj({p + "fc2.weight"}, H, F);
    layers_.push_back(std::move(l));
  }
  final_w_ = w.get(m + "layer_norm.weight", {H}, opt_);
  final_b_ = w.get(m + "layer_norm.bias", {H}, opt_);
  // MusicGen has no biases in attention, MLP or heads; a checkpoint that does
  // would be silently mis-computed, so refuse it.
  if (w.has(m + "layers.0.self_attn.q_proj.bias") || w.has(m + "layers.0.fc1.bias"))
    throw InputError(w.origin(), m + "layers.0.*.bias",
                     "this decoder has biases, MusicGen's has none",
                     "is this a MusicGen checkpoint?");
}

at::Tensor LmDecoder::kv_arena(int64_t numel) const {
  std::lock_guard<std::mutex> lock(arena_mutex_);
  // Reusable when no live DecoderState still holds views of it.
  const bool free = arena_.defined() && arena_.storage().use_count() == 1;
  if (!free || arena_.numel() < numel) {
    arena_ = at::Tensor();  // release before allocating the larger one
    arena_ = empty_huge({numel}, opt_);
  }
  return arena_.narrow(0, 0, numel);
}

at::Tensor LmDecoder::split_heads(const at::Tensor& x) const {
  const int64_t N = x.size(0), S = x.size(1);
  return x.view({N, S, cfg_.num_attention_heads, cfg_.head_dim()}).transpose(1, 2);
}

at::Tensor LmDecoder::merge_heads(const at::Tensor& x) const {
  const int64_t N = x.size(0), S = x.size(2);
  return x.transpose(1, 2).reshape({N, S, cfg_.hidden_size});
}

void LmDecoder::store_step(const at::Tensor& qkv, at::Tensor& k, at::Tensor& v, int64_t pos) const {
  const int64_t N = qkv.size(0), heads = cfg_.num_attention_heads, hd = cfg_.head_dim();
  const int64_t H = cfg_.hidden_size, cap = k.size(2);
  const float* src = qkv.data_ptr<float>();
  float* kd = k.data_ptr<float>();
  float* vd = v.data_ptr<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t dst = ((n * heads + h) * cap + pos) * hd;
      std::memcpy(kd + dst, src + n * qkv.stride(0) + H + h * hd, hd * sizeof(float));
      std::memcpy(vd + dst, src + n * qkv.stride(0) + 2 * H + h * hd, hd * sizeof(float));
    }
}

at::Tensor LmDecoder::fc1_activated(const Linear& fc1, const at::Tensor& h) const {
  if (cfg_.activation_function == "gelu") return fc1.gelu(h);  // erf form, fused when packed
  if (cfg_.activation_function == "gelu_new") return at::gelu(fc1(h), "tanh");
  return at::relu(fc1(h));
}

DecoderState LmDecoder::start(const at::Tensor& cond, const at::Tensor& mask,
                              const at::Tensor& row_source, int64_t capacity,
                              int64_t num_layers) const {
  if (capacity > positions_.size(0))
    throw InputError("generation", "frames",
                     std::to_string(capacity) + " positions exceed the model's " +
                         std::to_string(positions_.size(0)) + " (max_position_embeddings)",
                     "generate fewer frames");
  const int64_t H = cfg_.hidden_size, nh = cfg_.num_attention_heads, hd = cfg_.head_dim();
  DecoderState st;
  const at::Tensor src = row_source.to(opt_.device(), at::kLong);
  st.rows = src.size(0);
  st.capacity = capacity;
  const at::Tensor c = cond.to(opt_);
  const int64_t per = st.rows * nh * capacity * hd;
  const at::Tensor arena = kv_arena(2 * num_layers * per);
  for (int64_t i = 0; i < num_layers; ++i) {
    st.self_k.push_back(arena.narrow(0, 2 * i * per, per).view({st.rows, nh, capacity, hd}));
    st.self_v.push_back(arena.narrow(0, (2 * i + 1) * per, per).view({st.rows, nh, capacity, hd}));
    // Keys/values for each distinct prompt, then gathered for the rows.
    at::Tensor kv = layers_[i].cross_kv(c).index_select(0, src);
    auto parts = kv.split(H, -1);
    st.cross_k.push_back(split_heads(parts[0]).contiguous());
    st.cross_v.push_back(split_heads(parts[1]).contiguous());
  }
  // Padded text positions are masked (HF semantics, DESIGN.md): a row must not
  // depend on the padded length of its batch. Rows with no real token at all (the
  // unconditional half) are left unmasked: their keys and values are exact zeros,
  // so they average zeros, as the reference does, instead of a 0/0.
  at::Tensor m = mask.to(opt_.device(), at::kBool).index_select(0, src);
  at::Tensor any = m.any(1, /*keepdim=*/true);
  at::Tensor keep = m.logical_or(any.logical_not());
  if (!keep.all().item<bool>()) {
    at::Tensor add = at::zeros(keep.sizes(), opt_);
    add.masked_fill_(keep.logical_not(), -std::numeric_limits<float>::infinity());
    st.cross_mask = add.view({st.rows, 1, 1, -1});
  }
  return st;
}

at::Tensor LmDecoder::embed(const at::Tensor& tokens, int64_t pos0) const {
  const int64_t K = cfg_.num_codebooks, S = tokens.size(2);
  // One gather over the stacked tables: codebook k's ids are offset by k*(V+1).
  at::Tensor offsets = at::arange(K, tokens.options().dtype(at::kLong)) * (cfg_.vocab_size + 1);
  at::Tensor ids = tokens.to(at::kLong) + offsets.view({1, K, 1});
  at::Tensor x = at::embedding(embed_, ids).sum(1);  // [N, S, H]
  if (cfg_.scale_embedding) x = x * std::sqrt(static_cast<double>(cfg_.hidden_size));
  return x + positions_.narrow(0, pos0, S).unsqueeze(0);
}

at::Tensor LmDecoder::forward(DecoderState& st, const at::Tensor& tokens_in, int64_t num_layers,
                              HookRunner* hooks) const {
  const at::Tensor tokens = tokens_in.to(opt_.device());
  const int64_t N = tokens.size(0), S = tokens.size(2), H = cfg_.hidden_size;
  const int64_t K = cfg_.num_codebooks, V = cfg_.vocab_size;
  const int64_t p0 = st.pos;
  if (p0 + S > st.capacity)
    throw std::logic_error("LmDecoder::forward: KV cache capacity exceeded");
  const double eps = cfg_.layer_norm_eps;
  const bool hooked = hooks && !hooks->empty();
  at::Tensor x = embed(tokens, p0);

  // Causal mask for a multi-position call that does not start at 0 (SDPA's
  // is_causal aligns top-left, which is only right when p0 == 0).
  at::Tensor self_mask;
  if (S > 1 && p0 > 0) {
    auto qpos = at::arange(p0, p0 + S, opt_.dtype(at::kLong)).view({S, 1});
    auto kpos = at::arange(0, p0 + S, opt_.dtype(at::kLong)).view({1, p0 + S});
    self_mask = kpos <= qpos;
  }

  // Decoding steps on float32 CPUs take the kernels (store_step, attend_one_query).
  const bool kernel_step = S == 1 && cpu_kernels_;
  const double scale = 1.0 / std::sqrt(static_cast<double>(cfg_.head_dim()));
  for (int64_t i = 0; i < num_layers; ++i) {
    const Layer& l = layers_[i];
    const bool hl = hooked && hooks->layer_active(i);
    // x + proj(in): the residual add fused into the projection, unless a hook needs
    // the block output on its own.
    auto add_block = [&](const Linear& proj, const at::Tensor& in, SiteKind site) {
      if (!(hl && hooks->active(i, site))) return proj.add_to(in, x);
      at::Tensor y = proj(in);
      hooks->at(i, site, y, p0);
      return x + y;
    };

    // Self-attention with the cache filled in place.
    at::Tensor h = at::layer_norm(x, {H}, l.ln1_w, l.ln1_b, eps);
    const at::Tensor qkv_all = l.qkv(h);  // [N, S, 3H], contiguous
    at::Tensor a;
    if (kernel_step) {
      store_step(qkv_all, st.self_k[i], st.self_v[i], p0);
      a = attend_one_query(qkv_all, st.self_k[i], st.self_v[i], p0 + 1, at::Tensor(), scale)
              .view({N, 1, H});
    } else {
      auto qkv = qkv_all.split(H, -1);
      st.self_k[i].narrow(2, p0, S).copy_(split_heads(qkv[1]));
      st.self_v[i].narrow(2, p0, S).copy_(split_heads(qkv[2]));
      at::Tensor keys = st.self_k[i].narrow(2, 0, p0 + S);
      at::Tensor vals = st.self_v[i].narrow(2, 0, p0 + S);
      if (S == 1) {
        // One new position (every generation step): plain batched GEMMs over the cache
        // views. SDPA would first copy the strided cache views into contiguous K/V,
        // which at batch 16 moves more bytes per step than the weights themselves.
        at::Tensor q = split_heads(qkv[0]) * scale;
        a = merge_heads(at::matmul(at::softmax(at::matmul(q, keys.transpose(-1, -2)), -1), vals));
      } else {
        a = merge_heads(at::scaled_dot_product_attention(
            split_heads(qkv[0]), keys, vals, optional(self_mask), 0.0, /*is_causal=*/p0 == 0));
      }
    }
    if (hl && hooks->active(i, SiteKind::SelfAttnHead)) hooks->at(i, SiteKind::SelfAttnHead, a, p0);
    x = add_block(l.self_out, a, SiteKind::SelfAttn);

    // Cross-attention over the text.
    h = at::layer_norm(x, {H}, l.ln_cross_w, l.ln_cross_b, eps);
    at::Tensor c;
    if (kernel_step) {
      c = attend_one_query(l.cross_q(h), st.cross_k[i], st.cross_v[i], st.cross_k[i].size(2),
                           st.cross_mask, scale)
              .view({N, 1, H});
    } else {
      c = merge_heads(at::scaled_dot_product_attention(split_heads(l.cross_q(h)), st.cross_k[i],
                                                       st.cross_v[i], optional(st.cross_mask)));
    }
    if (hl && hooks->active(i, SiteKind::CrossAttnHead))
      hooks->at(i, SiteKind::CrossAttnHead, c, p0);
    x = add_block(l.cross_out, c, SiteKind::CrossAttn);

    // MLP (GELU fused into fc1 where the kernels run).
    h = at::layer_norm(x, {H}, l.ln2_w, l.ln2_b, eps);
    x = add_block(l.fc2, fc1_activated(l.fc1, h), SiteKind::Mlp);
    if (hl && hooks->active(i, SiteKind::LayerOut)) hooks->at(i, SiteKind::LayerOut, x, p0);
  }
  st.pos = p0 + S;
  at::Tensor out = at::layer_norm(x, {H}, final_w_, final_b_, eps);
  // [N, S, K*V] -> [N, K, S, V]
  return heads_(out).view({N, S, K, V}).permute({0, 2, 1, 3}).to(at::kFloat);
}

}  // namespace mg
