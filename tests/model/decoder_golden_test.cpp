// The text encoder and the LM decoder against the golden fixture: T5 states,
// the projected conditioning, teacher-forced logits and every hook site.
#include <gtest/gtest.h>

#include "golden.h"
#include "musicgen/generation.h"
#include "musicgen/hook_runner.h"
#include "musicgen/lm_decoder.h"
#include "musicgen/t5_encoder.h"

namespace {

using namespace mgtest;

struct Tiny {
  mg::MusicgenConfig cfg = mg::MusicgenConfig::from_file(golden_dir() + "/config.json");
  mg::Weights w = mg::Weights::open_folder(golden_dir());
  at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat);
  mg::LmDecoder decoder{cfg.decoder, w, f32};
};

Tiny& tiny() {
  static Tiny t;
  return t;
}

TEST(T5Golden, LastHiddenState) {
  mg::T5Encoder t5(tiny().cfg.text, tiny().w, at::kCPU);
  EXPECT_CLOSE(t5.forward(expect_tensor("text.input_ids"), expect_tensor("text.attention_mask")),
               "t5.last_hidden_state");
}

TEST(T5Golden, RelativeBucketsMatchHandValues) {
  // num_buckets 32 -> 16 per direction, exact below 8, log-spaced to 128.
  at::Tensor rel = at::tensor({-200, -9, -8, -7, 0, 1, 7, 8, 20, 127, 500}, at::kLong);
  at::Tensor b = mg::t5_relative_buckets(rel, 32, 128);
  // positive distances use buckets 16..31; 8 -> 8 + floor(log(1)/log(16)*8) = 8; 20 -> 8 +
  // floor(log(2.5)/log(16)*8) = 8 + 2 = 10; 127 -> 8 + floor(log(15.875)/log(16)*8) = 15.
  std::vector<int64_t> want = {15, 8, 8, 7, 0, 17, 23, 24, 26, 31, 31};
  EXPECT_TRUE(at::equal(b, at::tensor(want, at::kLong))) << b;
}

TEST(ConditioningGolden, ProjectionTimesMask) {
  auto& t = tiny();
  at::Tensor states = expect_tensor("t5.last_hidden_state");
  at::Tensor w = t.w.get_unchecked("enc_to_dec_proj.weight", t.f32);
  at::Tensor b = t.w.get_unchecked("enc_to_dec_proj.bias", t.f32);
  at::Tensor proj = at::linear(states, w, b);
  EXPECT_CLOSE(proj, "cond.proj_unmasked");
  EXPECT_CLOSE(proj * expect_tensor("cond.mask").unsqueeze(-1).to(at::kFloat),
               "cond.hidden_states");
}

// Teacher-forced forward over the golden decoder input with a capture on every site.
struct TeacherForced {
  at::Tensor logits;
  std::map<std::string, at::Tensor> sites;
};

TeacherForced teacher_forced(int64_t rows) {
  auto& t = tiny();
  // Rows as generation lays them out: the prompts, then as many unconditional rows
  // (all-zero conditioning and mask), which must not disturb the prompts' rows.
  at::Tensor tokens = expect_tensor("tf.input_ids").narrow(0, 0, rows);
  tokens = at::cat({tokens, tokens}, 0);
  at::Tensor cond = expect_tensor("cond.hidden_states").narrow(0, 0, rows);
  cond = at::cat({cond, at::zeros_like(cond)}, 0);
  at::Tensor mask = expect_tensor("cond.mask").narrow(0, 0, rows);
  mask = at::cat({mask, at::zeros_like(mask)}, 0);
  const int64_t S = tokens.size(2), L = t.cfg.decoder.num_hidden_layers;
  std::vector<mg::CaptureRequest> caps;
  for (const auto& site : mg::all_sites(L, t.cfg.decoder.num_attention_heads, true))
    caps.push_back({site, mg::CaptureMode::PerStep, {}});
  mg::HookRunner hooks({}, caps, rows, S, t.cfg.decoder.hidden_size, t.cfg.decoder.head_dim(),
                       t.f32);
  std::vector<int64_t> src;
  for (int64_t i = 0; i < 2 * rows; ++i) src.push_back(i);
  mg::DecoderState st = t.decoder.start(cond, mask, at::tensor(src, at::kLong), S, L);
  TeacherForced out;
  out.logits = t.decoder.forward(st, tokens, L, &hooks).narrow(0, 0, rows);
  for (auto& c : hooks.take_captures()) out.sites[c.site.name()] = c.values.narrow(0, 0, rows);
  return out;
}

at::Tensor heads_concat(const TeacherForced& tf, int64_t layer, const std::string& kind,
                        int64_t H) {
  std::vector<at::Tensor> parts;
  for (int64_t h = 0; h < H; ++h)
    parts.push_back(
        tf.sites.at("layers." + std::to_string(layer) + "." + kind + ".head." + std::to_string(h)));
  return at::cat(parts, -1);
}

void check_all_sites(const TeacherForced& tf, const std::string& tag, int64_t rows) {
  auto& t = tiny();
  auto e = [&](const std::string& n) { return expect_tensor(n).narrow(0, 0, rows); };
  auto close = [&](const at::Tensor& a, const std::string& n) {
    at::Tensor x = e(n);
    ASSERT_EQ(a.sizes(), x.sizes()) << n;
    EXPECT_LT(max_abs_diff(a, x), kTol) << n;
  };
  for (int64_t i = 0; i < t.cfg.decoder.num_hidden_layers; ++i) {
    const std::string p = "tf." + tag + ".layer" + std::to_string(i) + ".";
    const std::string s = "layers." + std::to_string(i) + ".";
    close(tf.sites.at(s + "self_attn"), p + "self_attn_out_proj");
    close(tf.sites.at(s + "cross_attn"), p + "cross_attn_out_proj");
    close(tf.sites.at(s + "mlp"), p + "fc2");
    close(tf.sites.at(s + "out"), p + "output");
    const int64_t H = t.cfg.decoder.num_attention_heads;
    close(heads_concat(tf, i, "self_attn", H), p + "self_attn_heads");
    close(heads_concat(tf, i, "cross_attn", H), p + "cross_attn_heads");
  }
  close(tf.logits, "tf." + tag + ".logits");
}

TEST(DecoderGolden, EmbedsMatchHf) {
  at::Tensor tokens = expect_tensor("tf.input_ids");
  EXPECT_CLOSE(tiny().decoder.embed(tokens, 0), "tf.hf.embeds");
}

TEST(DecoderGolden, TeacherForcedEverySiteMatchesHf) {
  // Both prompts, one of them padded: HF semantics (padded text masked).
  check_all_sites(teacher_forced(2), "hf", 2);
}

TEST(DecoderGolden, TeacherForcedUnpaddedPromptMatchesAudiocraft) {
  // For an unpadded prompt audiocraft and HF agree; prompt 0 is the longest.
  check_all_sites(teacher_forced(1), "ac", 1);
}

TEST(DecoderGolden, FinalNormFeedsTheHeads) {
  // DecoderLens reads the final LayerNorm of a cut stack; check the norm itself.
  auto& t = tiny();
  at::Tensor out = expect_tensor("tf.hf.layer2.output");
  at::Tensor w = t.w.get_unchecked("decoder.model.decoder.layer_norm.weight", t.f32);
  at::Tensor b = t.w.get_unchecked("decoder.model.decoder.layer_norm.bias", t.f32);
  EXPECT_CLOSE(at::layer_norm(out, {out.size(-1)}, w, b, 1e-5), "tf.hf.final_norm");
}

TEST(DecoderGolden, HeadSitesSumToTheBlockOutputThroughOutProj) {
  auto& t = tiny();
  TeacherForced tf = teacher_forced(2);
  const int64_t H = t.cfg.decoder.num_attention_heads, hd = t.cfg.decoder.head_dim();
  for (const std::string kind : {"self_attn", "encoder_attn"}) {
    const std::string site = kind == "self_attn" ? "self_attn" : "cross_attn";
    for (int64_t i = 0; i < t.cfg.decoder.num_hidden_layers; ++i) {
      at::Tensor wo = t.w.get_unchecked(
          "decoder.model.decoder.layers." + std::to_string(i) + "." + kind + ".out_proj.weight",
          t.f32);
      at::Tensor sum = at::zeros_like(tf.sites.at("layers." + std::to_string(i) + "." + site));
      for (int64_t h = 0; h < H; ++h) {
        at::Tensor head =
            tf.sites.at("layers." + std::to_string(i) + "." + site + ".head." + std::to_string(h));
        sum += at::matmul(head, wo.narrow(1, h * hd, hd).t());
      }
      EXPECT_LT(max_abs_diff(sum, tf.sites.at("layers." + std::to_string(i) + "." + site)), 1e-5)
          << site << " layer " << i;
    }
  }
}

}  // namespace
