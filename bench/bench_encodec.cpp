// EnCodec decode throughput (codes -> audio) for 10-second clips with the 32 kHz EnCodec that
// every published MusicGen uses (num_filters 64, hidden 128, ratios 8,5,4,4, 2-layer LSTM),
// random weights (as fast as real ones), and WAV writing.
//
//   bench_encodec                                        CPU, float32
//   MGSWEEP_BENCH_DEVICE=cuda MGSWEEP_BENCH_DTYPE=float16 bench_encodec
//   MGSWEEP_BENCH_MODEL=/path/to/musicgen-small bench_encodec   (a checkpoint's own EnCodec)
//
// Counters: clips/s and audio_s/s (seconds of audio decoded per wall-clock second).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "musicgen/config.h"
#include "musicgen/encodec.h"
#include "musicgen/random_model.h"
#include "musicgen/safetensors.h"
#include "musicgen/wav.h"
#include "musicgen/weights.h"

namespace fs = std::filesystem;

namespace {

constexpr int64_t kFrames = 500;  // 10 s at 50 Hz

// Random EnCodec decoder + quantizer weights in the HF layout, numbered as HF's
// EncodecDecoder numbers its modules, for `cfg`.
std::string write_random_encodec(const mg::EncodecConfig& cfg, int64_t codebooks) {
  std::vector<std::pair<std::string, at::Tensor>> ts;
  auto add = [&](const std::string& n, at::IntArrayRef shape, double std) {
    ts.emplace_back(n, at::randn(shape) * std);
  };
  const std::string q = "audio_encoder.quantizer.layers.";
  for (int64_t k = 0; k < codebooks; ++k)
    add(q + std::to_string(k) + ".codebook.embed", {cfg.codebook_size, cfg.codebook_dim}, 1.0);
  const std::string p = "audio_encoder.decoder.layers.";
  int64_t scaling = int64_t{1} << cfg.upsampling_ratios.size();
  int64_t i = 0;
  auto L = [&](int64_t j) { return p + std::to_string(j); };
  // Conv1d weight [out, in, k], g [out]; the bias is [out].
  auto conv1d = [&](const std::string& n, int64_t in, int64_t out, int64_t k) {
    add(n + ".weight_g", {out, 1, 1}, 1.0);
    add(n + ".weight_v", {out, in, k}, 0.1);
    add(n + ".bias", {out}, 0.01);
  };
  conv1d(L(i++) + ".conv", cfg.hidden_size, scaling * cfg.num_filters, cfg.kernel_size);
  const int64_t h = scaling * cfg.num_filters;
  for (int64_t l = 0; l < cfg.num_lstm_layers; ++l) {
    const std::string s = L(i) + ".lstm.", n = std::to_string(l);
    add(s + "weight_ih_l" + n, {4 * h, h}, 0.03);
    add(s + "weight_hh_l" + n, {4 * h, h}, 0.03);
    add(s + "bias_ih_l" + n, {4 * h}, 0.01);
    add(s + "bias_hh_l" + n, {4 * h}, 0.01);
  }
  ++i;
  for (int64_t r : cfg.upsampling_ratios) {
    const int64_t cur = scaling * cfg.num_filters, out = cur / 2;
    ++i;  // ELU
    // ConvTranspose1d weight [in, out, k], g [in]; the bias is [out].
    const std::string t = L(i++) + ".conv";
    add(t + ".weight_g", {cur, 1, 1}, 1.0);
    add(t + ".weight_v", {cur, out, 2 * r}, 0.1);
    add(t + ".bias", {out}, 0.01);
    for (int64_t j = 0; j < cfg.num_residual_layers; ++j) {
      const std::string b = L(i++);
      conv1d(b + ".block.1.conv", out, out / cfg.compress, cfg.residual_kernel_size);
      conv1d(b + ".block.3.conv", out / cfg.compress, out, 1);
    }
    scaling /= 2;
  }
  ++i;  // ELU
  conv1d(L(i) + ".conv", cfg.num_filters, cfg.audio_channels, cfg.last_kernel_size);

  std::vector<mg::StWriteItem> items;
  for (auto& [n, t] : ts) {
    t = t.contiguous();
    items.push_back({n, mg::StDtype::F32, t.sizes().vec(), t.data_ptr(),
                     static_cast<size_t>(t.numel()) * sizeof(float)});
  }
  const std::string path = (fs::temp_directory_path() /
                            ("mgsweep_bench_encodec_" + std::to_string(getpid()) + ".safetensors"))
                               .string();
  mg::write_safetensors(path, items);
  return path;
}

at::TensorOptions bench_options() {
  at::TensorOptions o = at::TensorOptions().dtype(at::kFloat);
  if (const char* d = std::getenv("MGSWEEP_BENCH_DEVICE"); d && *d) o = o.device(at::Device(d));
  if (const char* t = std::getenv("MGSWEEP_BENCH_DTYPE"); t && *t) {
    const std::string s(t);
    if (s == "float16") o = o.dtype(at::kHalf);
    if (s == "bfloat16") o = o.dtype(at::kBFloat16);
  }
  return o;
}

const mg::EncodecDecoder& decoder() {
  static std::unique_ptr<mg::EncodecDecoder> dec = [] {
    if (const char* m = std::getenv("MGSWEEP_BENCH_MODEL"); m && *m) {
      const auto cfg = mg::MusicgenConfig::from_file((fs::path(m) / "config.json").string());
      const mg::Weights w = mg::Weights::open_folder(m);
      return std::make_unique<mg::EncodecDecoder>(cfg.audio, w, bench_options());
    }
    const mg::EncodecConfig cfg = mg::named_shape("small").audio;
    const std::string path = write_random_encodec(cfg, 4);
    const mg::Weights w = mg::Weights::open_file(path);
    auto d = std::make_unique<mg::EncodecDecoder>(cfg, w, bench_options());
    fs::remove(path);
    return d;
  }();
  return *dec;
}

void sync(const at::Tensor& t) {
  if (t.is_cuda()) t.sum().item<float>();  // waits for the stream
}

void BM_Decode(benchmark::State& state) {
  const mg::EncodecDecoder& dec = decoder();
  const int64_t batch = state.range(0);
  const at::Tensor codes =
      at::randint(0, dec.config().codebook_size, {batch, dec.num_codebooks(), kFrames}, at::kLong)
          .to(dec.options().device());
  sync(dec.decode(codes));  // warm-up (cuDNN/oneDNN plans)
  for (auto _ : state) {
    at::Tensor audio = dec.decode(codes);
    sync(audio);
    benchmark::DoNotOptimize(audio.data_ptr());
  }
  const double clips = static_cast<double>(state.iterations() * batch);
  state.counters["clips/s"] = benchmark::Counter(clips, benchmark::Counter::kIsRate);
  state.counters["audio_s/s"] = benchmark::Counter(
      clips * static_cast<double>(kFrames * dec.hop_length()) / dec.sample_rate(),
      benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Decode)
    ->ArgName("batch")
    ->Arg(1)
    ->Arg(8)
    ->Arg(32)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_WriteWav(benchmark::State& state) {
  at::Tensor audio = at::randn({1, 10 * 32000}) * 0.1;
  const std::string path =
      (fs::temp_directory_path() / ("mgsweep_bench_" + std::to_string(getpid()) + ".wav")).string();
  for (auto _ : state) mg::write_wav(path, audio, 32000);
  fs::remove(path);
  state.counters["clips/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_WriteWav)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
