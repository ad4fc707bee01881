// Differential test against the real Hugging Face transformers: random models at
// shapes drawn afresh on every run (tests/hf_diff/make_hf_fixtures.py writes them and
// what transformers computes for them; the seed is printed, MGSWEEP_HF_SEED=S repeats
// a run). Every piece of the port must agree to the golden tolerances: tokenizer ids,
// T5, conditioning, teacher-forced logits and every hook site, greedy CFG codes,
// DecoderLens, interventions (every op, head sites, step windows), EnCodec audio;
// with both CPU GEMM paths (packed + our AVX-512 decode attention, and ATen), and on CUDA
// (float32, TF32 off) where the machine has a GPU (bench/gpu_check.sh runs it there).
//
// Run by the ctest `hf_diff_compare` only (tests/CMakeLists.txt keeps HfDiff.* out of
// gtest discovery): it needs the fixtures, and fails without them rather than pass
// without comparing (MGSWEEP_ALLOW_SKIP=1 turns a run without fixtures into a skip).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "kernels/decode_attention.h"
#include "kernels/packed_sgemm.h"
#include "musicgen/hook_runner.h"
#include "musicgen/musicgen.h"

namespace {
namespace fs = std::filesystem;

// Float tolerance: the golden one (1e-4), or kDriftFactor times how far transformers'
// own float32 run lands from its float64 reference for that tensor (meta.json
// fp32_drift), whichever is larger. A float32 port cannot be held closer to the float64
// numbers than float32 itself gets: on a narrow deep shape (e.g. hidden 4, one head,
// 4 layers) HF's float32 logits drift 1.2e-4, and ours 2.1e-4 (seed 116).
constexpr double kTol = 1e-4;
constexpr double kDriftFactor = 10.0;

bool allow_skip() {
  const char* v = std::getenv("MGSWEEP_ALLOW_SKIP");
  return v && std::string(v) == "1";
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

const char* gemm_name(mg::CpuGemm g) { return g == mg::CpuGemm::Packed ? "packed" : "aten"; }
std::string path_name(mg::CpuGemm g, const at::Device& d) {
  return d.is_cuda() ? std::string("cuda") : std::string(gemm_name(g));
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble).cpu() - b.to(at::kDouble).cpu()).abs().max().item<double>();
}

class Fixture {
 public:
  Fixture(const fs::path& dir, mg::CpuGemm gemm, at::Device device = at::kCPU)
      : dir_(dir),
        gemm_(gemm),
        device_(device),
        expected_(mg::Weights::open_file((dir / "expected.safetensors").string())),
        model_(dir.string(), mg::RunOptions{device, at::kFloat, gemm}),
        meta_(read_json(dir / "meta.json")) {}
  at::Tensor e(const std::string& name) const { return expected_.get_unchecked(name, {}); }
  bool has(const std::string& name) const { return expected_.has(name); }
  double tol(const std::string& name) const {
    const auto& drift = meta_["fp32_drift"];
    const auto it = drift.find(name);
    if (it == drift.end() || !it->is_number()) return kTol;
    return std::max(kTol, kDriftFactor * it->get<double>());
  }
  const mg::MusicGen& model() const { return model_; }
  const nlohmann::json& meta() const { return meta_; }
  std::string tag() const { return dir_.filename().string() + "/" + path_name(gemm_, device_); }

 private:
  fs::path dir_;
  mg::CpuGemm gemm_;
  at::Device device_;
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
  EXPECT_LT(max_diff(m.text_states(in_ids, in_mask), f.e("t5.last_hidden_state")),
            f.tol("t5.last_hidden_state"))
      << tag;
  mg::Conditioning cond = m.encode_ids(in_ids, in_mask);
  EXPECT_LT(max_diff(cond.hidden, f.e("cond.hidden_states")), f.tol("cond.hidden_states")) << tag;
  cond = {f.e("cond.hidden_states"), f.e("cond.mask")};  // decouple the decoder checks

  // Teacher-forced forward with a capture on every site.
  const int64_t B = in_ids.size(0), L = dc.num_hidden_layers;
  at::Tensor tokens = f.e("tf.input_ids");
  const int64_t S = tokens.size(2);
  std::vector<mg::CaptureRequest> caps;
  for (const auto& site : mg::all_sites(L, dc.num_attention_heads, true))
    caps.push_back({site, mg::CaptureMode::PerStep, {}});
  const at::Device dev = m.options().device;
  mg::HookRunner hooks({}, caps, B, S, dc.hidden_size, dc.head_dim(),
                       at::TensorOptions().device(dev));
  std::vector<int64_t> src;
  for (int64_t i = 0; i < B; ++i) src.push_back(i);
  for (int64_t i = 0; i < B; ++i) src.push_back(B);
  at::Tensor hidden = at::cat({cond.hidden, at::zeros_like(cond.hidden.narrow(0, 0, 1))}, 0);
  at::Tensor mask = at::cat({cond.mask, at::zeros_like(cond.mask.narrow(0, 0, 1))}, 0);
  mg::DecoderState st = m.decoder().start(hidden, mask, at::tensor(src, at::kLong), S, L);
  at::Tensor logits = m.decoder().forward(st, at::cat({tokens, tokens}, 0), L, &hooks);
  EXPECT_LT(max_diff(logits.narrow(0, 0, B), f.e("tf.hf.logits")), f.tol("tf.hf.logits")) << tag;
  EXPECT_LT(max_diff(m.decoder().embed(tokens.to(dev), 0), f.e("tf.hf.embeds")),
            f.tol("tf.hf.embeds"))
      << tag;
  std::map<std::string, at::Tensor> got;
  for (auto& c : hooks.take_captures()) got[c.site.name()] = c.values.narrow(0, 0, B);
  for (int64_t i = 0; i < L; ++i) {
    const std::string s = "layers." + std::to_string(i) + ".";
    const std::string p = "tf.hf.layer" + std::to_string(i) + ".";
    EXPECT_LT(max_diff(got[s + "self_attn"], f.e(p + "self_attn_out_proj")),
              f.tol(p + "self_attn_out_proj"))
        << tag << s;
    EXPECT_LT(max_diff(got[s + "cross_attn"], f.e(p + "cross_attn_out_proj")),
              f.tol(p + "cross_attn_out_proj"))
        << tag << s;
    EXPECT_LT(max_diff(got[s + "mlp"], f.e(p + "fc2")), f.tol(p + "fc2")) << tag << s;
    EXPECT_LT(max_diff(got[s + "out"], f.e(p + "output")), f.tol(p + "output")) << tag << s;
    for (const std::string kind : {"self_attn", "cross_attn"}) {
      std::vector<at::Tensor> heads;
      for (int64_t h = 0; h < dc.num_attention_heads; ++h)
        heads.push_back(got[s + kind + ".head." + std::to_string(h)]);
      EXPECT_LT(max_diff(at::cat(heads, -1), f.e(p + kind + "_heads")), f.tol(p + kind + "_heads"))
          << tag << s << kind;
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
  // Interventions as drawn by the generator (meta.json "interventions", hooks.h names).
  // Each one changed its element's codes in transformers (the generator re-draws until it
  // does); that is checked again here so that a no-op intervention cannot pass.
  for (const auto& p : f.meta()["interventions"]) {
    const std::string name = p["name"], prefix = "intv." + name;
    SCOPED_TRACE(tag + " " + prefix + " " + p["site"].get<std::string>());
    mg::Intervention iv;
    iv.site = mg::HookSite::parse(p["site"], L, dc.num_attention_heads);
    ASSERT_TRUE(mg::parse_op(p["op"], &iv.op)) << p["op"];
    iv.row = p["row"];
    iv.both_halves = p["both_halves"];
    iv.factor = p["factor"];
    if (f.has(prefix + ".desired")) iv.desired = f.e(prefix + ".desired");
    if (f.has(prefix + ".original")) iv.original = f.e(prefix + ".original");
    iv.window.t0 = p["t0"];
    if (!p["t1"].is_null()) iv.window.t1 = p["t1"];
    auto req = greedy(frames);
    req.interventions.push_back(iv);
    const auto r = m.generate(cond, req);
    expect_codes(r, f, prefix + ".hf");
    const int64_t row = iv.row;
    EXPECT_FALSE(at::equal(f.e(prefix + ".hf.codes")[row], f.e("gen.hf.codes")[row]))
        << "the fixture's intervention leaves element " << row << "'s codes unchanged";
    EXPECT_FALSE(at::equal(r.codes[row].cpu(), gen.codes[row].cpu()))
        << "the intervention leaves element " << row << "'s codes unchanged";
  }
  // EnCodec: generate()'s audio, random codes, the short-input path.
  EXPECT_LT(max_diff(m.decode_audio(gen.codes), f.e("gen.hf.wav")), f.tol("gen.hf.wav")) << tag;
  if (dc.audio_channels == 1) {
    EXPECT_LT(
        max_diff(m.audio_decoder().decode(f.e("encodec.rand.codes")), f.e("encodec.rand.wav")),
        f.tol("encodec.rand.wav"))
        << tag;
    EXPECT_LT(
        max_diff(m.audio_decoder().decode(f.e("encodec.short.codes")), f.e("encodec.short.wav")),
        f.tol("encodec.short.wav"))
        << tag;
  }
}

// What every run must contain whatever its seed (the generator guarantees it by
// construction; checked here from the fixtures themselves).
void expect_coverage(const std::vector<nlohmann::json>& metas) {
  bool wide = false, wide_kernel = false, t5_wide = false, stereo3 = false, head = false,
       window = false, adjust_unequal = false;
  std::set<std::string> ops;
  for (const auto& m : metas) {
    const auto& d = m["shape"]["decoder"];
    const int64_t hd = d["hidden_size"].get<int64_t>() / d["num_attention_heads"].get<int64_t>();
    wide |= hd % 16 == 0;
    wide_kernel |= mg::kernels::decode_attention_available(hd);
    t5_wide |= m["shape"]["text_encoder"]["d_kv"].get<int64_t>() % 16 == 0;
    stereo3 |= d["audio_channels"] == 2 && d["num_hidden_layers"].get<int64_t>() >= 3;
    const int64_t steps = m["max_new_tokens"];
    for (const auto& p : m["interventions"]) {
      ops.insert(p["op"].get<std::string>());
      head |= p["head"].get<int64_t>() >= 0;
      window |= p["t0"].get<int64_t>() > 0 && !p["t1"].is_null() && p["t1"].get<int64_t>() < steps;
      adjust_unequal |= p["op"] == "adjust" && p.value("max_abs_desired_minus_original", 0.0) > 0.0;
    }
  }
  EXPECT_TRUE(wide) << "no shape with a head width that is a multiple of 16";
  if (mg::kernels::packed_sgemm_available())
    EXPECT_TRUE(wide_kernel) << "no shape takes the AVX-512 decode-attention kernel";
  EXPECT_TRUE(t5_wide) << "no T5 with d_kv a multiple of 16";
  EXPECT_TRUE(stereo3) << "no stereo shape with at least 3 layers";
  for (const char* op : {"add", "replace", "scale", "zero", "adjust"})
    EXPECT_TRUE(ops.count(op)) << "no " << op << " intervention";
  EXPECT_TRUE(head) << "no intervention on a single head";
  EXPECT_TRUE(window) << "no intervention window starting and ending mid-generation";
  EXPECT_TRUE(adjust_unequal) << "no adjust with desired != original";
}

TEST(HfDiff, EveryRandomShapeAgreesWithTransformers) {
  const char* root = std::getenv("MGSWEEP_HF_FIXTURES");
  ASSERT_TRUE(root && *root)
      << "MGSWEEP_HF_FIXTURES is not set: run it as `ctest --test-dir build -R hf_diff`";
  const fs::path manifest_path = fs::path(root) / "manifest.json";
  if (!fs::exists(manifest_path)) {
    if (allow_skip()) GTEST_SKIP() << "no fixtures in " << root << " (MGSWEEP_ALLOW_SKIP=1)";
    FAIL() << "no fixtures in " << root
           << " (no manifest.json): see the output of the ctest hf_diff_make_fixtures";
  }
  const nlohmann::json manifest = read_json(manifest_path);
  const int64_t seed = manifest["seed"];
  std::printf(
      "[hf_diff] seed %lld: reproduce with MGSWEEP_HF_SEED=%lld ctest --test-dir build "
      "-R hf_diff\n",
      static_cast<long long>(seed), static_cast<long long>(seed));
  SCOPED_TRACE("hf_diff seed " + std::to_string(seed) +
               " (MGSWEEP_HF_SEED=" + std::to_string(seed) + " reproduces this run)");
  std::vector<fs::path> dirs;
  std::vector<nlohmann::json> metas;
  for (const auto& name : manifest["shapes"]) {
    const fs::path d = fs::path(root) / name.get<std::string>();
    ASSERT_TRUE(fs::exists(d / "expected.safetensors")) << d << " was not written";
    dirs.push_back(d);
    metas.push_back(read_json(d / "meta.json"));
    ASSERT_EQ(metas.back()["seed"].get<int64_t>(), seed) << d << " is from another run";
  }
  ASSERT_FALSE(dirs.empty()) << "the manifest lists no shapes";
  expect_coverage(metas);

  // Both GEMM paths: packed (with, for head widths that are multiples of 16, the AVX-512
  // decode-attention kernel) and ATen. Packed needs AVX-512; without it only ATen runs.
  std::vector<mg::CpuGemm> gemms = {mg::CpuGemm::Aten};
  if (mg::kernels::packed_sgemm_available())
    gemms.push_back(mg::CpuGemm::Packed);
  else
    std::printf("[hf_diff] this CPU has no AVX-512: the packed GEMM path is not compared\n");
  for (const auto gemm : gemms) {
    for (const auto& d : dirs) {
      SCOPED_TRACE(d.string() + " gemm=" + gemm_name(gemm));
      check_fixture(Fixture(d, gemm));
    }
  }
  std::printf("[hf_diff] %zu shapes x %zu GEMM paths compared (seed %lld)\n", dirs.size(),
              gemms.size(), static_cast<long long>(seed));
  // The GPU path, where there is one: ATen on CUDA in float32, TF32 off (the tolerances are
  // float32's).
  if (!at::hasCUDA()) {
    std::printf("[hf_diff] no CUDA device: the CUDA path is not compared\n");
    return;
  }
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
  for (const auto& d : dirs) {
    SCOPED_TRACE(d.string() + " cuda");
    check_fixture(Fixture(d, mg::CpuGemm::Aten, at::Device(at::kCUDA)));
  }
  std::printf("[hf_diff] %zu shapes compared on CUDA (seed %lld)\n", dirs.size(),
              static_cast<long long>(seed));
}

}  // namespace
