// Classifier throughput: clips per second through the exported PaSST (random weights are
// as fast as real ones), the demo classifier, and the metrics per scored item.
//
//   MGSWEEP_PASST_TS=passt_4s.pt bench_classifier        (bench/run_classifier_bench.sh
//                                                          exports the file and also runs
//                                                          the Python model for comparison)
// PaSST is benchmarked on 4-second clips at 32 kHz; set MGSWEEP_BENCH_DEVICE=cuda for a GPU.
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <ctime>
#include <memory>
#include <random>
#include <vector>

#include "classify/demo_classifier.h"
#include "classify/metrics.h"
#include "classify/torchscript_classifier.h"

namespace {

constexpr int64_t kRate = 32000;
constexpr int64_t kClipSamples = 4 * kRate;

at::Tensor clips(int64_t n) { return at::randn({n, kClipSamples}) * 0.1; }

// The model named by MGSWEEP_PASST_TS, loaded once for all benchmarks; null if unset.
mg::TorchScriptClassifier* passt() {
  static std::unique_ptr<mg::TorchScriptClassifier> model;
  if (!model) {
    const char* path = std::getenv("MGSWEEP_PASST_TS");
    if (!path || !*path) return nullptr;
    mg::TorchScriptOptions o;
    const char* dev = std::getenv("MGSWEEP_BENCH_DEVICE");
    if (dev && *dev) o.device = at::Device(dev);
    o.max_batch = 64;
    model = std::make_unique<mg::TorchScriptClassifier>(path, o);
  }
  return model.get();
}

void BM_Passt(benchmark::State& state) {
  auto* model = passt();
  if (!model) {
    state.SkipWithError("set MGSWEEP_PASST_TS to a file from tools/export_passt.py --seconds 4");
    return;
  }
  if (model->input_samples() != kClipSamples) {
    state.SkipWithError("export the benchmark model with --seconds 4");
    return;
  }
  const int64_t batch = state.range(0);
  auto audio = clips(batch);
  // Warm-up: TorchScript's profiling executor specialises the graph on its first runs.
  for (int i = 0; i < 2; ++i) model->classify(audio, kRate);
  const std::clock_t cpu_start = std::clock();
  for (auto _ : state) benchmark::DoNotOptimize(model->classify(audio, kRate));
  const double cpu_s = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["clips/s"] =
      benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  // Clips per second of process CPU time (all threads): the number to compare on a shared
  // machine, where wall-clock rates depend on what else runs.
  state.counters["clips/cpu_s"] = double(state.iterations() * batch) / cpu_s;
  state.counters["threads"] = at::get_num_threads();
}
BENCHMARK(BM_Passt)
    ->Arg(1)
    ->Arg(4)
    ->Arg(8)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(5.0);

void BM_Demo(benchmark::State& state) {
  mg::DemoClassifier demo;
  const int64_t batch = state.range(0);
  auto audio = clips(batch);
  for (auto _ : state) benchmark::DoNotOptimize(demo.classify(audio, kRate));
  state.counters["clips/s"] =
      benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Demo)->Arg(8)->Unit(benchmark::kMillisecond)->UseRealTime();

// One intervened row against its baseline: effect, parts and KL over 527 classes.
void BM_EffectScore(benchmark::State& state) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0, 3);
  const size_t n = 527, rows = 72;  // a prompt's 24 layers x 3 components
  std::vector<float> before(n), after(rows * n);
  for (auto& v : before) v = d(rng);
  for (auto& v : after) v = d(rng);
  std::vector<mg::metrics::EffectScore> out(rows);
  for (auto _ : state) {
    mg::metrics::effect_scores(before.data(), after.data(), rows, n, 140, 153, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_EffectScore);

void BM_Ndcg(benchmark::State& state) {
  std::mt19937 rng(2);
  std::normal_distribution<float> d(0, 3);
  const size_t n = 527, rows = 24;  // one DecoderLens prompt: 24 layers
  std::vector<float> logits(rows * n);
  for (auto& v : logits) v = d(rng);
  const int32_t guitar[] = {140, 141, 142, 143, 144};  // Table 1's five guitar labels
  std::vector<mg::metrics::NdcgScore> out(rows);
  for (auto _ : state) {
    mg::metrics::ndcg_rows(logits.data(), rows, n, guitar, 5, 0, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_Ndcg);

}  // namespace

BENCHMARK_MAIN();
