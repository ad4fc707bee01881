// The polyphase resampler: lengths, tones in the pass band, rejection in the stop band.
// (tests/classify_diff compares it sample by sample with torchaudio.)
#include "classify/resample.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mg {
namespace {

constexpr double kPi = 3.14159265358979323846;

at::Tensor tone(double hz, int64_t rate, int64_t n) {
  auto t = at::arange(n, at::kDouble) / double(rate);
  return at::sin(2 * kPi * hz * t).to(at::kFloat);
}

double rms(const at::Tensor& x) { return x.to(at::kDouble).pow(2).mean().sqrt().item<double>(); }

TEST(Resample, IdentityReturnsTheInput) {
  Resampler r(32000, 32000);
  auto x = at::randn({2, 100});
  EXPECT_TRUE(r.is_identity());
  EXPECT_TRUE(r(x).is_same(x));
}

TEST(Resample, OutputCoversTheInputDuration) {
  Resampler down(48000, 32000), up(16000, 32000), odd(44100, 32000);
  EXPECT_EQ(down.output_length(48000), 32000);
  EXPECT_EQ(down.output_length(4), 3);  // ceil(4 * 2 / 3)
  EXPECT_EQ(up.output_length(5), 10);
  EXPECT_EQ(odd.output_length(44100), 32000);
  EXPECT_EQ(odd.output_length(1), 1);
  for (int64_t n : {1, 2, 3, 7, 1000}) {
    EXPECT_EQ(down(at::zeros({n})).size(-1), down.output_length(n));
    EXPECT_EQ(odd(at::zeros({2, 1, n})).sizes(), (at::IntArrayRef{2, 1, odd.output_length(n)}));
  }
  EXPECT_EQ(down.kernel().sizes(), (at::IntArrayRef{2, 1, 2 * 102 + 3}));  // up=2, down=3
}

// A tone well inside the pass band comes out as the same tone at the new rate (compared
// away from the edges, where the zero padding outside the clip is filtered in).
void expect_tone_kept(int64_t from, int64_t to, double hz) {
  const int64_t n = from / 2;  // 0.5 s
  auto y = Resampler(from, to)(tone(hz, from, n).unsqueeze(0)).squeeze(0);
  auto expected = tone(hz, to, y.size(0));
  const int64_t margin = to / 50;  // 20 ms
  auto err = (y - expected).slice(0, margin, y.size(0) - margin).abs().max().item<double>();
  EXPECT_LT(err, 2e-4) << from << " -> " << to << " at " << hz << " Hz";
}

TEST(Resample, KeepsPassBandTones) {
  expect_tone_kept(48000, 32000, 1000);
  expect_tone_kept(48000, 32000, 12000);
  expect_tone_kept(32000, 16000, 440);
  expect_tone_kept(16000, 32000, 3000);
  expect_tone_kept(44100, 32000, 5000);
}

TEST(Resample, RemovesWhatTheNewRateCannotHold) {
  // 20 kHz at 48 kHz is above 32 kHz's Nyquist (16 kHz): it must not alias to 12 kHz.
  const int64_t n = 24000;
  auto y = Resampler(48000, 32000)(tone(20000, 48000, n));
  EXPECT_LT(rms(y.slice(0, 640, y.size(0) - 640)), 1e-4);
}

TEST(Resample, WorksOnDoubleAndBatches) {
  Resampler r(32000, 16000);
  auto x = at::randn({3, 2, 800}, at::kDouble);
  auto y = r(x);
  EXPECT_EQ(y.scalar_type(), at::kDouble);
  EXPECT_EQ(y.sizes(), (at::IntArrayRef{3, 2, 400}));
  // Rows are independent of each other.
  EXPECT_TRUE(at::allclose(y[1][0], r(x[1][0]), 1e-12, 1e-12));
}

TEST(Resample, RejectsBadRates) {
  EXPECT_THROW(Resampler(0, 32000), std::invalid_argument);
  EXPECT_THROW(Resampler(32000, -1), std::invalid_argument);
}

}  // namespace
}  // namespace mg
