// The demo classifier: deterministic everywhere, rows independent, the hash pinned.
#include "classify/demo_classifier.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>

#include "classify/counter_hash.h"

namespace mg {
namespace {

TEST(CounterHash, IsSplitMix64) {
  // SplitMix64 with seed 0: its first outputs as published with the reference code.
  EXPECT_EQ(counter_hash(0, 0), 0xe220a8397b1dcdafull);
  EXPECT_EQ(counter_hash(0, 1), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(counter_hash(0, 2), 0x06c45d188009454full);
}

TEST(CounterHash, UniformIsPinnedAndInRange) {
  // Pinned so that a change to the demo's weights cannot go unnoticed (values computed with
  // Python integers: (hash >> 11) * 2^-52 - 1).
  const uint64_t seed = DemoOptions{}.seed;
  EXPECT_EQ(counter_uniform(seed, 0), -0.7456294299684696);
  EXPECT_EQ(counter_uniform(seed, 12345), -0.18284845828213547);
  double lo = 1, hi = -1, sum = 0;
  for (uint64_t i = 0; i < 100000; ++i) {
    const double u = counter_uniform(seed, i);
    lo = std::min(lo, u), hi = std::max(hi, u), sum += u;
  }
  EXPECT_GE(lo, -1.0);
  EXPECT_LT(hi, 1.0);
  EXPECT_NEAR(sum / 100000, 0.0, 0.01);
}

TEST(DemoClassifier, WeightsComeFromTheHash) {
  DemoClassifier demo;
  EXPECT_EQ(demo.num_classes(), 527);
  EXPECT_EQ(demo.weight().sizes(), (at::IntArrayRef{527, 128}));
  const uint64_t seed = DemoOptions{}.seed;
  const double scale = std::sqrt(3.0 / 128.0);
  EXPECT_EQ(demo.weight()[0][0].item<float>(), float(scale * counter_uniform(seed, 0)));
  EXPECT_EQ(demo.weight()[96][57].item<float>(), float(scale * counter_uniform(seed, 12345)));
  EXPECT_EQ(demo.bias()[3].item<float>(), float(counter_uniform(seed, 527 * 128 + 3)));
}

TEST(DemoClassifier, MelFilterbankIsTriangular) {
  auto fb = htk_mel_filterbank(8, 64, 16000);
  ASSERT_EQ(fb.sizes(), (at::IntArrayRef{8, 33}));
  EXPECT_GE(fb.min().item<double>(), 0.0);
  EXPECT_LE(fb.max().item<double>(), 1.0);
  EXPECT_EQ(fb.select(1, 0).sum().item<double>(), 0.0);  // no band reaches 0 Hz's bin peak
  for (int64_t m = 0; m < 8; ++m) EXPECT_GT(fb[m].sum().item<double>(), 0.0) << m;
}

at::Tensor clips() {
  auto t = at::arange(64000, at::kFloat) / 32000.0;
  auto sine = at::sin(2 * 3.14159265358979 * 440 * t) * 0.5;
  auto gen = at::detail::createCPUGenerator(5);
  auto noise = at::randn({64000}, gen) * 0.1;
  return at::stack({sine, noise, sine + noise});  // 2 s at 32 kHz
}

TEST(DemoClassifier, ScoresGeneratorAudio) {
  DemoClassifier demo;
  auto logits = demo.classify(clips(), 32000);  // resampled to 16 kHz, padded to 10 s
  ASSERT_EQ(logits.sizes(), (at::IntArrayRef{3, 527}));
  EXPECT_TRUE(at::isfinite(logits).all().item<bool>());
  // Different sounds, different scores.
  EXPECT_GT((logits[0] - logits[1]).abs().max().item<float>(), 0.1f);
}

TEST(DemoClassifier, RowsDoNotDependOnTheBatch) {
  DemoClassifier demo;
  auto audio = clips();
  auto all = demo.classify(audio, 32000);
  demo.set_max_batch(1);
  auto one = demo.classify(audio.narrow(0, 2, 1), 32000);
  EXPECT_TRUE(at::allclose(all[2], one[0], 1e-5, 1e-5));
}

TEST(DemoClassifier, TwoInstancesAgree) {
  DemoClassifier a, b;
  EXPECT_TRUE(at::equal(a.classify(clips(), 32000), b.classify(clips(), 32000)));
  DemoOptions other;
  other.seed = 1;
  DemoClassifier c(Labels{}, other);
  EXPECT_FALSE(at::equal(a.weight(), c.weight()));
}

TEST(DemoClassifier, UsesTheGivenLabels) {
  DemoClassifier demo(Labels::numbered(10));
  EXPECT_EQ(demo.classify(clips(), 32000).size(1), 10);
  EXPECT_EQ(demo.name(), "demo");
}

}  // namespace
}  // namespace mg
