// Differential test against the real Hugging Face transformers: random models at
// randomly drawn shapes (tests/hf_diff/make_hf_fixtures.py writes them and what
// transformers computes for them). Every piece of the port must agree to the
// golden tolerances: tokenizer ids, T5, conditioning, teacher-forced logits and
// every hook site, greedy CFG codes, DecoderLens, interventions, EnCodec audio.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "musicgen/hook_runner.h"
#include "musicgen/musicgen.h"

namespace {
namespace fs = std::filesystem;

constexpr double kTol = 1e-4;

std::vector<fs::path> fixture_dirs() {
  const char* root = std::getenv("MGSWEEP_HF_FIXTURES");
  std::vector<fs::path> dirs;
  if (!root || !fs::is_directory(root)) return dirs;
  for (const auto& e : fs::directory_iterator(root))
    if (fs::exists(e.path() / "expected.safetensors")) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble).cpu() - b.to(at::kDouble).cpu()).abs().max().item<double>();
}

class Fixture {
 public:
  explicit Fixture(const fs::path& dir)
      : dir_(dir),
        expected_(mg::Weights::open_file((dir / "expected.safetensors").string())),
        model_(dir.string(), mg::RunOptions{}) {
    std::ifstream in(dir / "meta.json");
    meta_ = nlohmann::json::parse(in);
  }
  at::Tensor e(const std::string& name) const { return expected_.get_unchecked(name, {}); }
  bool has(const std::string& name) const { return expected_.has(name); }
  const mg::MusicGen& model() const { return model_; }
  const nlohmann::json& meta() const { return meta_; }
  std::string tag() const { return dir_.filename().string(); }

 private:
  fs::path dir_;
  mg::Weights expected_;
  mg::MusicGen model_;
  nlohmann::json meta_;
};

mg::GenerationRequest greedy(int64_t frames) {
  mg::GenerationRequest r;
  r.frames = frames;
  r.sampling.greedy = true;
  r.sampling.guidance = 3.0;
  return r;
}

void expect_codes(const mg::GenerationResult& r, const Fixture& f, const std::string& prefix) {
  EXPECT_TRUE(at::equal(r.codes.cpu(), f.e(prefix + ".codes"))) << f.tag() << " " << prefix;
  EXPECT_TRUE(at::equal(r.sequence.cpu(), f.e(prefix + ".sequence"))) << f.tag() << " " << prefix;
}

void check_fixture(const Fixture& f) {
  const auto& m = f.model();
  const auto& dc = m.config().decoder;
  const std::string tag = f.tag();
  // Tokenizer: the fixture's ids are the HF tokenizer's.
  std::vector<std::string> prompts = f.meta()["prompts"].get<std::vector<std::string>>();
  const auto batch = m.tokenizer().encode_batch(prompts);
  at::Tensor ids = at::tensor(batch.ids, at::kLong).view({batch.rows, batch.cols});
  EXPECT_TRUE(at::equal(ids, f.e("text.input_ids"))) << tag;

  // Text side.
  at::Tensor in_ids = f.e("text.input_ids"), in_mask = f.e("text.attention_mask");
  EXPECT_LT(max_diff(m.text_states(in_ids, in_mask), f.e("t5.last_hidden_state")), kTol) << tag;
  mg::Conditioning cond = m.encode_ids(in_ids, in_mask);
  EXPECT_LT(max_diff(cond.hidden, f.e("cond.hidden_states")), kTol) << tag;
  cond = {f.e("cond.hidden_states"), f.e("cond.mask")};  // decouple the decoder checks

  // Teacher-forced forward with a capture on every site.
  const int64_t B = in_ids.size(0), L = dc.num_hidden_layers;
  at::Tensor tokens = f.e("tf.input_ids");
  const int64_t S = tokens.size(2);
  std::vector<mg::CaptureRequest> caps;
  for (const auto& site : mg::all_sites(L, dc.num_attention_heads, true))
    caps.push_back({site, mg::CaptureMode::PerStep, {}});
  mg::HookRunner hooks({}, caps, B, S, dc.hidden_size, dc.head_dim(), at::TensorOptions());
  std::vector<int64_t> src;
  for (int64_t i = 0; i < B; ++i) src.push_back(i);
  for (int64_t i = 0; i < B; ++i) src.push_back(B);
  at::Tensor hidden = at::cat({cond.hidden, at::zeros_like(cond.hidden.narrow(0, 0, 1))}, 0);
  at::Tensor mask = at::cat({cond.mask, at::zeros_like(cond.mask.narrow(0, 0, 1))}, 0);
  mg::DecoderState st = m.decoder().start(hidden, mask, at::tensor(src, at::kLong), S, L);
  at::Tensor logits = m.decoder().forward(st, at::cat({tokens, tokens}, 0), L, &hooks);
  EXPECT_LT(max_diff(logits.narrow(0, 0, B), f.e("tf.hf.logits")), kTol) << tag;
  EXPECT_LT(max_diff(m.decoder().embed(tokens, 0), f.e("tf.hf.embeds")), kTol) << tag;
  std::map<std::string, at::Tensor> got;
  for (auto& c : hooks.take_captures()) got[c.site.name()] = c.values.narrow(0, 0, B);
  for (int64_t i = 0; i < L; ++i) {
    const std::string s = "layers." + std::to_string(i) + ".";
    const std::string p = "tf.hf.layer" + std::to_string(i) + ".";
    EXPECT_LT(max_diff(got[s + "self_attn"], f.e(p + "self_attn_out_proj")), kTol) << tag << s;
    EXPECT_LT(max_diff(got[s + "cross_attn"], f.e(p + "cross_attn_out_proj")), kTol) << tag << s;
    EXPECT_LT(max_diff(got[s + "mlp"], f.e(p + "fc2")), kTol) << tag << s;
    EXPECT_LT(max_diff(got[s + "out"], f.e(p + "output")), kTol) << tag << s;
    for (const std::string kind : {"self_attn", "cross_attn"}) {
      std::vector<at::Tensor> heads;
      for (int64_t h = 0; h < dc.num_attention_heads; ++h)
        heads.push_back(got[s + kind + ".head." + std::to_string(h)]);
      EXPECT_LT(max_diff(at::cat(heads, -1), f.e(p + kind + "_heads")), kTol) << tag << s << kind;
    }
  }

  // Greedy CFG generation, batched and one prompt at a time.
  const int64_t frames = f.e("gen.hf.codes").size(2);
  auto gen = m.generate(cond, greedy(frames));
  expect_codes(gen, f, "gen.hf");
  for (int64_t b = 0; b < B; ++b) {
    const std::string name = "gen1.p" + std::to_string(b);
    if (!f.has(name + ".codes")) continue;
    const int64_t len = cond.mask[b].sum().item<int64_t>();
    mg::Conditioning one{cond.hidden.narrow(0, b, 1).narrow(1, 0, len),
                         cond.mask.narrow(0, b, 1).narrow(1, 0, len)};
    expect_codes(m.generate(one, greedy(frames)), f, name);
  }
  // DecoderLens cuts.
  for (int64_t k = 1; k < L; ++k) {
    auto req = greedy(frames);
    req.lens_layers = k;
    expect_codes(m.generate(cond, req), f, "lens.k" + std::to_string(k) + ".hf");
  }
  // Interventions on layer j's MLP output.
  const int64_t j = f.e("intv.layer").item<int64_t>();
  for (const bool both : {false, true}) {
    auto req = greedy(frames);
    mg::Intervention iv;
    iv.site = mg::HookSite{j, mg::SiteKind::Mlp, -1};
    iv.op = both ? mg::InterventionOp::Replace : mg::InterventionOp::Add;
    iv.both_halves = both;
    iv.desired = f.e("intv.vector");
    req.interventions.push_back(iv);
    expect_codes(m.generate(cond, req), f, both ? "intv.replace_both.hf" : "intv.add_cond.hf");
  }
  // EnCodec: generate()'s audio, random codes, the short-input path.
  EXPECT_LT(max_diff(m.decode_audio(gen.codes), f.e("gen.hf.wav")), kTol) << tag;
  if (dc.audio_channels == 1) {
    EXPECT_LT(
        max_diff(m.audio_decoder().decode(f.e("encodec.rand.codes")), f.e("encodec.rand.wav")),
        kTol)
        << tag;
    EXPECT_LT(
        max_diff(m.audio_decoder().decode(f.e("encodec.short.codes")), f.e("encodec.short.wav")),
        kTol)
        << tag;
  }
}

TEST(HfDiff, EveryRandomShapeAgreesWithTransformers) {
  auto dirs = fixture_dirs();
  if (dirs.empty()) GTEST_SKIP() << "MGSWEEP_HF_FIXTURES not set (ctest hf_diff_compare sets it)";
  for (const auto& d : dirs) {
    SCOPED_TRACE(d.string());
    check_fixture(Fixture(d));
  }
}

}  // namespace
