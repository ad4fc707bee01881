// EnCodec decoder against the tiny golden fixture (computed by audiocraft/transformers in
// float64), config/weights mismatches, low-precision decoding, and -- when a Python with
// transformers is at hand -- configurations the fixture does not cover (causal convs, conv
// shortcuts, constant padding, several residual blocks, stereo, legacy/new weight-norm names).
#include "musicgen/encodec.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "musicgen/config.h"
#include "musicgen/errors.h"
#include "musicgen/safetensors.h"
#include "musicgen/weights.h"

namespace fs = std::filesystem;

namespace {

const std::string kTiny = std::string(MGSWEEP_TEST_DATA) + "/golden/tiny";

const mg::EncodecConfig& tiny_config() {
  static const mg::EncodecConfig cfg = mg::MusicgenConfig::from_file(kTiny + "/config.json").audio;
  return cfg;
}
const mg::Weights& tiny_weights() {
  static const mg::Weights w = mg::Weights::open_file(kTiny + "/model.safetensors");
  return w;
}
const mg::Weights& expected() {
  static const mg::Weights w = mg::Weights::open_file(kTiny + "/expected.safetensors");
  return w;
}
at::Tensor want(const std::string& name) {
  return expected().get_unchecked(name, at::TensorOptions().dtype(at::kFloat));
}
at::Tensor want_codes(const std::string& name) {
  return expected().get_unchecked(name, at::TensorOptions().dtype(at::kLong));
}
const at::TensorOptions kF32 = at::TensorOptions().dtype(at::kFloat).device(at::kCPU);

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

std::string scratch(const std::string& name) {
  fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "encodec";
  fs::create_directories(dir);
  return (dir / name).string();
}

// Copies a safetensors file, dropping `drop` and replacing the shape/bytes of `replace`.
void rewrite_safetensors(const std::string& src, const std::string& dst,
                         const std::vector<std::string>& drop,
                         const std::map<std::string, at::Tensor>& replace = {}) {
  mg::SafetensorsFile f(src);
  std::vector<mg::StWriteItem> items;
  std::vector<at::Tensor> keep;
  for (const auto& t : f.header().tensors) {
    if (std::find(drop.begin(), drop.end(), t.name) != drop.end()) continue;
    auto it = replace.find(t.name);
    if (it != replace.end()) {
      at::Tensor r = it->second.to(at::kFloat).contiguous();
      keep.push_back(r);
      items.push_back({t.name, mg::StDtype::F32, r.sizes().vec(), r.data_ptr(),
                       static_cast<size_t>(r.numel() * 4)});
      continue;
    }
    items.push_back({t.name, t.dtype, t.shape, f.bytes(t), static_cast<size_t>(t.end - t.begin)});
  }
  mg::write_safetensors(dst, items);
}

// Expects `fn` to throw mg::InputError whose message contains `needle`.
template <class F>
void expect_input_error(F fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no InputError (wanted one naming " << needle << ")";
  } catch (const mg::InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

class EncodecGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dec_ = new mg::EncodecDecoder(tiny_config(), tiny_weights(), kF32);
  }
  static void TearDownTestSuite() {
    delete dec_;
    dec_ = nullptr;
  }
  static mg::EncodecDecoder* dec_;
};
mg::EncodecDecoder* EncodecGolden::dec_ = nullptr;

TEST_F(EncodecGolden, Geometry) {
  EXPECT_EQ(dec_->sample_rate(), 32000);
  EXPECT_EQ(dec_->hop_length(), 640);
  EXPECT_EQ(dec_->num_codebooks(), 4);
  EXPECT_EQ(dec_->audio_channels(), 1);
}

TEST_F(EncodecGolden, RandLatent) {
  at::Tensor got = dec_->decode_latent(want_codes("encodec.rand.codes"));
  at::Tensor ref = want("encodec.rand.latent");
  ASSERT_EQ(got.sizes(), ref.sizes());
  EXPECT_EQ(got.scalar_type(), at::kFloat);
  const double err = max_abs_diff(got, ref);
  std::cout << "[encodec] rand.latent max abs err " << err << "\n";
  EXPECT_LT(err, 1e-4);
}

struct WavCase {
  const char* codes;
  const char* wav;
};

TEST_F(EncodecGolden, Wavs) {
  for (const WavCase c :
       {WavCase{"encodec.rand.codes", "encodec.rand.wav"},
        WavCase{"encodec.short.codes", "encodec.short.wav"}, WavCase{"gen.ac.codes", "gen.ac.wav"},
        WavCase{"gen.hf.codes", "gen.hf.wav"}}) {
    SCOPED_TRACE(c.wav);
    at::Tensor codes = want_codes(c.codes);
    at::Tensor got = dec_->decode(codes);
    at::Tensor ref = want(c.wav);
    ASSERT_EQ(got.sizes(), ref.sizes());
    EXPECT_EQ(got.size(2), codes.size(2) * dec_->hop_length());
    EXPECT_EQ(got.scalar_type(), at::kFloat);
    const double err = max_abs_diff(got, ref);
    std::cout << "[encodec] " << c.wav << " max abs err " << err << " (signal max "
              << ref.abs().max().item<double>() << ")\n";
    EXPECT_LT(err, 1e-4);
  }
}

TEST_F(EncodecGolden, BatchRowsAreIndependent) {
  at::Tensor codes = want_codes("gen.ac.codes");
  at::Tensor both = dec_->decode(codes);
  for (int64_t b = 0; b < codes.size(0); ++b) {
    at::Tensor one = dec_->decode(codes.narrow(0, b, 1));
    EXPECT_LT(max_abs_diff(one, both.narrow(0, b, 1)), 1e-5);
  }
}

TEST_F(EncodecGolden, FewerCodebooksSumFewerEmbeddings) {
  at::Tensor codes = want_codes("encodec.rand.codes");
  at::Tensor lat2 = dec_->decode_latent(codes.narrow(1, 0, 2));
  at::Tensor ref = at::zeros_like(lat2);
  for (int64_t k = 0; k < 2; ++k) {
    at::Tensor embed = tiny_weights().get_unchecked(
        "audio_encoder.quantizer.layers." + std::to_string(k) + ".codebook.embed", kF32);
    ref += at::embedding(embed, codes.select(1, k)).transpose(1, 2);
  }
  EXPECT_LT(max_abs_diff(lat2, ref), 1e-6);
  EXPECT_EQ(dec_->decode(codes.narrow(1, 0, 1)).sizes(), (std::vector<int64_t>{2, 1, 10240}));
}

TEST_F(EncodecGolden, IntCodesAccepted) {
  at::Tensor codes = want_codes("encodec.short.codes");
  EXPECT_LT(max_abs_diff(dec_->decode(codes.to(at::kInt)), want("encodec.short.wav")), 1e-4);
}

TEST_F(EncodecGolden, BadCodesRejected) {
  at::Tensor codes = want_codes("encodec.rand.codes").clone();
  EXPECT_THROW(dec_->decode(codes.flatten()), std::invalid_argument);
  EXPECT_THROW(dec_->decode(codes.to(at::kFloat)), std::invalid_argument);
  EXPECT_THROW(dec_->decode(at::cat({codes, codes.narrow(1, 0, 1)}, 1)), std::invalid_argument);
  EXPECT_THROW(dec_->decode(codes.narrow(2, 0, 0)), std::invalid_argument);
  at::Tensor high = codes.clone();
  high[0][2][3] = 64;
  EXPECT_THROW(dec_->decode(high), std::invalid_argument);
  at::Tensor neg = codes.clone();
  neg[1][0][0] = -1;
  EXPECT_THROW(dec_->decode(neg), std::invalid_argument);
}

TEST(Encodec, LowPrecisionStaysClose) {
  at::Tensor codes = want_codes("gen.ac.codes");
  at::Tensor ref = want("gen.ac.wav");
  const double peak = ref.abs().max().item<double>();
  for (at::ScalarType dt : {at::kBFloat16, at::kHalf}) {
    SCOPED_TRACE(c10::toString(dt));
    const auto opts = at::TensorOptions().dtype(dt).device(at::kCPU);
    mg::EncodecDecoder dec(tiny_config(), tiny_weights(), opts);
    at::Tensor got;
    try {
      got = dec.decode(codes);
    } catch (const c10::Error& e) {
      // Some CPU builds lack half-precision kernels; that is LibTorch's business, not ours.
      if (dt == at::kHalf) {
        std::cout << "[encodec] float16 on CPU unsupported by this LibTorch: "
                  << e.what_without_backtrace() << "\n";
        continue;
      }
      throw;
    }
    EXPECT_EQ(got.scalar_type(), dt);
    ASSERT_EQ(got.sizes(), ref.sizes());
    const double err = max_abs_diff(got, ref);
    std::cout << "[encodec] gen.ac.wav in " << c10::toString(dt) << ": max abs err " << err << " = "
              << err / peak << " of the peak\n";
    EXPECT_LT(err, 5e-2 * peak);
  }
}

TEST(Encodec, CudaMatchesIfAvailable) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA";
  const auto opts = at::TensorOptions().dtype(at::kFloat).device(at::kCUDA);
  mg::EncodecDecoder dec(tiny_config(), tiny_weights(), opts);
  for (const char* name : {"gen.ac", "encodec.short"}) {
    const std::string n(name);
    const bool gen = n == "gen.ac";
    at::Tensor got = dec.decode(want_codes(gen ? "gen.ac.codes" : "encodec.short.codes"));
    EXPECT_TRUE(got.is_cuda());
    const double err = max_abs_diff(got.cpu(), want(gen ? "gen.ac.wav" : "encodec.short.wav"));
    std::cout << "[encodec] CUDA fp32 " << name << " max abs err " << err << "\n";
    EXPECT_LT(err, 1e-4);
  }
  mg::EncodecDecoder half(tiny_config(), tiny_weights(), opts.dtype(at::kHalf));
  at::Tensor ref = want("gen.ac.wav");
  at::Tensor got = half.decode(want_codes("gen.ac.codes")).cpu();
  EXPECT_LT(max_abs_diff(got, ref), 5e-2 * ref.abs().max().item<double>());
}

TEST(Encodec, MissingCodebookIsNamed) {
  const std::string src = kTiny + "/model.safetensors";
  // The last codebook gone: a decoder that must serve 4 codebooks refuses at load ...
  const std::string no_last = scratch("no_codebook3.safetensors");
  rewrite_safetensors(src, no_last, {"audio_encoder.quantizer.layers.3.codebook.embed"});
  const mg::Weights w3 = mg::Weights::open_file(no_last);
  expect_input_error([&] { mg::EncodecDecoder(tiny_config(), w3, kF32, "audio_encoder.", 4); },
                     "audio_encoder.quantizer.layers.3.codebook.embed");
  // ... one that takes what is there has 3.
  EXPECT_EQ(mg::EncodecDecoder(tiny_config(), w3, kF32).num_codebooks(), 3);
  // A gap in the numbering is always an error.
  const std::string gap = scratch("no_codebook1.safetensors");
  rewrite_safetensors(src, gap, {"audio_encoder.quantizer.layers.1.codebook.embed"});
  const mg::Weights w1 = mg::Weights::open_file(gap);
  expect_input_error([&] { mg::EncodecDecoder(tiny_config(), w1, kF32); },
                     "audio_encoder.quantizer.layers.1.codebook.embed");
}

TEST(Encodec, MissingOrMisshapedDecoderTensorIsNamed) {
  const std::string src = kTiny + "/model.safetensors";
  const std::string p1 = scratch("no_lstm_bias.safetensors");
  rewrite_safetensors(src, p1, {"audio_encoder.decoder.layers.1.lstm.bias_hh_l1"});
  const mg::Weights w1 = mg::Weights::open_file(p1);
  expect_input_error([&] { mg::EncodecDecoder(tiny_config(), w1, kF32); },
                     "audio_encoder.decoder.layers.1.lstm.bias_hh_l1");

  const std::string p2 = scratch("bad_shape.safetensors");
  rewrite_safetensors(
      src, p2, {},
      {{"audio_encoder.decoder.layers.7.block.1.conv.weight_v", at::zeros({4, 8, 5})}});
  const mg::Weights w2 = mg::Weights::open_file(p2);
  expect_input_error([&] { mg::EncodecDecoder(tiny_config(), w2, kF32); },
                     "audio_encoder.decoder.layers.7.block.1.conv.weight_v");
}

TEST(Encodec, ConfigThatDisagreesWithTheWeightsIsNamed) {
  const mg::Weights& w = tiny_weights();
  {
    mg::EncodecConfig c = tiny_config();
    c.num_filters = 8;  // first conv would have 128 output channels
    expect_input_error([&] { mg::EncodecDecoder(c, w, kF32); },
                       "audio_encoder.decoder.layers.0.conv.weight_g");
  }
  {
    mg::EncodecConfig c = tiny_config();
    c.hidden_size = c.codebook_dim = 32;
    expect_input_error([&] { mg::EncodecDecoder(c, w, kF32); },
                       "audio_encoder.quantizer.layers.0.codebook.embed");
  }
  {
    // Two residual blocks per stage shift every later index: layer 5 does not exist.
    mg::EncodecConfig c = tiny_config();
    c.num_residual_layers = 2;
    expect_input_error([&] { mg::EncodecDecoder(c, w, kF32); }, "audio_encoder.decoder.layers.5.");
  }
  {
    mg::EncodecConfig c = tiny_config();
    c.upsampling_ratios = {8, 5, 4, 2};  // last ConvTranspose kernel 4 instead of 8
    expect_input_error([&] { mg::EncodecDecoder(c, w, kF32); },
                       "audio_encoder.decoder.layers.12.conv.weight_v");
  }
  {
    mg::EncodecConfig c = tiny_config();
    c.num_lstm_layers = 3;
    expect_input_error([&] { mg::EncodecDecoder(c, w, kF32); },
                       "audio_encoder.decoder.layers.1.lstm.weight_ih_l2");
  }
  {
    mg::EncodecConfig c = tiny_config();
    c.codebook_dim = 8;
    expect_input_error([&] { mg::EncodecDecoder(c, w, kF32); }, "audio_encoder.codebook_dim");
  }
  {
    mg::EncodecConfig c = tiny_config();
    c.trim_right_ratio = 0.5;  // only meaningful for causal convs (HF refuses it too)
    expect_input_error([&] { mg::EncodecDecoder(c, w, kF32); }, "audio_encoder.trim_right_ratio");
  }
  // A wrong prefix names the first tensor it looked for.
  expect_input_error([&] { mg::EncodecDecoder(tiny_config(), w, kF32, "encodec."); },
                     "encodec.quantizer.layers.0.codebook.embed");
}

// ---------------------------------------------------------------------------------------
// Differential test against transformers' EncodecModel on configurations the fixture does
// not exercise. Needs a Python with torch + transformers (MGSWEEP_PYTHON, else the repo's
// .venv); skipped without one.

struct Variant {
  std::string name;
  mg::EncodecConfig cfg;
  std::string prefix;  // weights saved under this prefix
  bool legacy_names;   // weight_g/weight_v instead of parametrizations.weight.original0/1
  int64_t frames;
  bool conv_shortcut;
};

std::vector<Variant> variants() {
  std::vector<Variant> v;
  mg::EncodecConfig base;
  base.sampling_rate = 600;
  base.audio_channels = 1;
  base.num_filters = 4;
  base.upsampling_ratios = {3, 2};
  base.hidden_size = 8;
  base.codebook_size = 32;
  base.codebook_dim = 8;
  base.num_lstm_layers = 1;
  base.num_residual_layers = 2;
  base.kernel_size = 5;
  base.last_kernel_size = 3;
  base.residual_kernel_size = 3;
  base.dilation_growth_rate = 3;
  base.compress = 2;
  base.pad_mode = "reflect";
  base.use_causal_conv = true;
  base.trim_right_ratio = 1.0;
  {
    Variant x{"causal_reflect_shortcut", base, "audio_encoder.", false, 9, true};
    v.push_back(x);
  }
  {
    Variant x{"causal_reflect_short", base, "", true, 1, false};  // T=1: short reflect path
    x.cfg.trim_right_ratio = 0.5;
    x.cfg.upsampling_ratios = {5, 2};
    v.push_back(x);
  }
  {
    Variant x{"causal_constant_trim", base, "", false, 7, true};
    x.cfg.pad_mode = "constant";
    x.cfg.trim_right_ratio = 0.25;
    x.cfg.audio_channels = 2;
    x.cfg.num_lstm_layers = 3;
    v.push_back(x);
  }
  {
    Variant x{"noncausal_constant", base, "m.", true, 6, false};
    x.cfg.use_causal_conv = false;
    x.cfg.pad_mode = "constant";
    x.cfg.upsampling_ratios = {3, 2, 2};
    x.cfg.num_filters = 2;
    x.cfg.compress = 1;
    x.cfg.residual_kernel_size = 4;  // even kernel: asymmetric padding
    x.cfg.kernel_size = 6;
    v.push_back(x);
  }
  {
    Variant x{"noncausal_reflect_even", base, "", false, 2, true};
    x.cfg.use_causal_conv = false;
    x.cfg.upsampling_ratios = {5, 3};  // odd strides: asymmetric transposed-conv trim
    x.cfg.kernel_size = 4;
    x.cfg.last_kernel_size = 6;
    x.cfg.hidden_size = x.cfg.codebook_dim = 6;
    x.cfg.num_residual_layers = 3;
    x.cfg.dilation_growth_rate = 2;
    v.push_back(x);
  }
  return v;
}

const char* kReferenceScript = R"PY(
import json, sys, torch
from safetensors.torch import save_file
from transformers import EncodecConfig, EncodecModel
spec = json.load(open(sys.argv[1]))
out = sys.argv[2]
torch.manual_seed(1234)
for v in spec:
    c = v["cfg"]
    hop = 1
    for r in c["upsampling_ratios"]:
        hop *= r
    frame_rate = -(-c["sampling_rate"] // hop)
    cfg = EncodecConfig(
        sampling_rate=c["sampling_rate"], audio_channels=c["audio_channels"],
        num_filters=c["num_filters"], upsampling_ratios=c["upsampling_ratios"],
        hidden_size=c["hidden_size"], codebook_size=c["codebook_size"],
        codebook_dim=c["codebook_dim"], num_lstm_layers=c["num_lstm_layers"],
        num_residual_layers=c["num_residual_layers"], kernel_size=c["kernel_size"],
        last_kernel_size=c["last_kernel_size"], residual_kernel_size=c["residual_kernel_size"],
        dilation_growth_rate=c["dilation_growth_rate"], compress=c["compress"],
        pad_mode=c["pad_mode"], use_causal_conv=c["use_causal_conv"],
        trim_right_ratio=float(c["trim_right_ratio"]), use_conv_shortcut=v["conv_shortcut"],
        norm_type="weight_norm", target_bandwidths=[3 * 5 * frame_rate / 1000.0])
    m = EncodecModel(cfg).eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(torch.randn_like(p) * (0.3 if "bias" in name else 0.5))
            if name.endswith("original0"):
                p.copy_(torch.rand_like(p) + 0.5)
        for name, b in m.named_buffers():
            if name.endswith("codebook.embed"):
                b.copy_(torch.randn_like(b))
    nq = len(m.quantizer.layers)
    sd = {}
    for k, t in m.state_dict().items():
        if not (k.startswith("decoder.") or k.endswith("codebook.embed")):
            continue
        if v["legacy_names"]:
            k = k.replace("parametrizations.weight.original0", "weight_g")
            k = k.replace("parametrizations.weight.original1", "weight_v")
        sd[v["prefix"] + k] = t.detach().float().contiguous()
    save_file(sd, f"{out}/{v['name']}.weights.safetensors")
    k_used = max(1, nq - 1)
    codes = torch.randint(0, c["codebook_size"], (2, k_used, v["frames"]))
    m = m.double()
    with torch.no_grad():
        latent = m.quantizer.decode(codes.transpose(0, 1))
        audio = m.decoder(latent)
    save_file({"codes": codes, "latent": latent.float().contiguous(),
               "audio": audio.float().contiguous(),
               "num_quantizers": torch.tensor([nq])},
              f"{out}/{v['name']}.expected.safetensors")
print("ok")
)PY";

std::string find_python() {
  if (const char* p = std::getenv("MGSWEEP_PYTHON"); p && *p && fs::exists(p)) return p;
  const fs::path venv = fs::path(MGSWEEP_TEST_DATA) / ".." / ".venv" / "bin" / "python";
  if (fs::exists(venv)) return venv.string();
  return "";
}

std::string json_list(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  return s + "]";
}

TEST(EncodecDifferential, MatchesTransformersOnOtherConfigs) {
  // The oracle missing is a failure, not a pass (tests/oracle_deps.py); skip only under the
  // explicit opt-out.
  const char* allow = std::getenv("MGSWEEP_ALLOW_SKIP");
  const bool may_skip = allow && std::string(allow) == "1";
  const std::string py = find_python();
  if (py.empty()) {
    if (may_skip) GTEST_SKIP() << "no Python (MGSWEEP_ALLOW_SKIP=1)";
    FAIL() << "no Python with transformers: run tools/setup.sh (creates .venv) or set "
              "MGSWEEP_PYTHON";
  }
  if (std::system(("'" + py + "' -c 'import transformers, safetensors' >/dev/null 2>&1").c_str()) !=
      0) {
    if (may_skip) GTEST_SKIP() << py << " lacks transformers/safetensors (MGSWEEP_ALLOW_SKIP=1)";
    FAIL() << py << " lacks transformers/safetensors: install them with " << py
           << " -m pip install -r tests/requirements-diff.txt";
  }
  const std::string dir = scratch("differential");
  fs::create_directories(dir);
  const auto vs = variants();
  {
    std::ofstream spec(dir + "/spec.json");
    spec << "[";
    for (size_t i = 0; i < vs.size(); ++i) {
      const auto& v = vs[i];
      const auto& c = v.cfg;
      spec << (i ? "," : "") << "{\"name\":\"" << v.name << "\",\"prefix\":\"" << v.prefix
           << "\",\"legacy_names\":" << (v.legacy_names ? "true" : "false")
           << ",\"frames\":" << v.frames
           << ",\"conv_shortcut\":" << (v.conv_shortcut ? "true" : "false") << ",\"cfg\":{"
           << "\"sampling_rate\":" << c.sampling_rate << ",\"audio_channels\":" << c.audio_channels
           << ",\"num_filters\":" << c.num_filters
           << ",\"upsampling_ratios\":" << json_list(c.upsampling_ratios)
           << ",\"hidden_size\":" << c.hidden_size << ",\"codebook_size\":" << c.codebook_size
           << ",\"codebook_dim\":" << c.codebook_dim << ",\"num_lstm_layers\":" << c.num_lstm_layers
           << ",\"num_residual_layers\":" << c.num_residual_layers
           << ",\"kernel_size\":" << c.kernel_size << ",\"last_kernel_size\":" << c.last_kernel_size
           << ",\"residual_kernel_size\":" << c.residual_kernel_size
           << ",\"dilation_growth_rate\":" << c.dilation_growth_rate
           << ",\"compress\":" << c.compress << ",\"pad_mode\":\"" << c.pad_mode
           << "\",\"use_causal_conv\":" << (c.use_causal_conv ? "true" : "false")
           << ",\"trim_right_ratio\":" << c.trim_right_ratio << "}}";
    }
    spec << "]";
    std::ofstream(dir + "/ref.py") << kReferenceScript;
  }
  const std::string cmd = "'" + py + "' '" + dir + "/ref.py' '" + dir + "/spec.json' '" + dir +
                          "' > '" + dir + "/ref.log' 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "reference script failed, see " << dir << "/ref.log";

  for (const auto& v : vs) {
    SCOPED_TRACE(v.name);
    const mg::Weights w = mg::Weights::open_file(dir + "/" + v.name + ".weights.safetensors");
    const mg::Weights e = mg::Weights::open_file(dir + "/" + v.name + ".expected.safetensors");
    const auto i64 = at::TensorOptions().dtype(at::kLong);
    const int64_t nq = e.get_unchecked("num_quantizers", i64).item<int64_t>();
    mg::EncodecDecoder dec(v.cfg, w, kF32, v.prefix);
    EXPECT_EQ(dec.num_codebooks(), nq);
    at::Tensor codes = e.get_unchecked("codes", i64);
    at::Tensor latent = dec.decode_latent(codes);
    EXPECT_LT(max_abs_diff(latent, e.get_unchecked("latent", kF32)), 1e-5);
    at::Tensor audio = dec.decode(codes);
    at::Tensor ref = e.get_unchecked("audio", kF32);
    ASSERT_EQ(audio.sizes(), ref.sizes());
    EXPECT_EQ(audio.size(1), v.cfg.audio_channels);
    EXPECT_EQ(audio.size(2), codes.size(2) * dec.hop_length());
    const double peak = ref.abs().max().item<double>();
    const double err = max_abs_diff(audio, ref);
    std::cout << "[encodec] differential " << v.name << ": max abs err " << err << " (peak " << peak
              << ")\n";
    EXPECT_LT(err, 1e-5 * std::max(1.0, peak));
  }
}

}  // namespace
