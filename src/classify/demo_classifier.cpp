// The built-in demo classifier (see demo_classifier.h).
#include "classify/demo_classifier.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "classify/counter_hash.h"

namespace mg {
namespace {

constexpr int64_t kAudioSetClasses = 527;

double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

}  // namespace

at::Tensor htk_mel_filterbank(int64_t n_mels, int64_t n_fft, int64_t sample_rate) {
  const int64_t bins = n_fft / 2 + 1;
  const double top = hz_to_mel(sample_rate / 2.0);
  std::vector<double> edges(size_t(n_mels + 2));
  for (int64_t m = 0; m < n_mels + 2; ++m) edges[m] = mel_to_hz(top * double(m) / (n_mels + 1));
  auto fb = at::zeros({n_mels, bins}, at::kDouble);
  auto a = fb.accessor<double, 2>();
  for (int64_t m = 0; m < n_mels; ++m) {
    const double lo = edges[m], mid = edges[m + 1], hi = edges[m + 2];
    for (int64_t k = 0; k < bins; ++k) {
      const double f = double(k) * sample_rate / double(n_fft);
      a[m][k] = std::max(0.0, std::min((f - lo) / (mid - lo), (hi - f) / (hi - mid)));
    }
  }
  return fb;
}

DemoClassifier::DemoClassifier(Labels labels, const DemoOptions& options)
    : options_(options),
      labels_(labels.empty() ? Labels::numbered(kAudioSetClasses) : std::move(labels)) {
  const auto& o = options_;
  if (o.sample_rate <= 0 || o.input_samples < o.n_fft || o.n_fft < 2 || o.hop <= 0 || o.n_mels <= 0)
    throw std::invalid_argument("DemoClassifier: bad options");
  set_max_batch(o.max_batch);

  const int64_t classes = num_classes(), features = 2 * o.n_mels;
  // Uniform in [-1, 1) has variance 1/3: scale so that each logit has about unit variance
  // for unit-variance features. All of this is exact or correctly rounded IEEE arithmetic,
  // hence the same everywhere.
  const double scale = std::sqrt(3.0 / double(features));
  std::vector<float> w(static_cast<size_t>(classes * features));
  std::vector<float> b(static_cast<size_t>(classes));
  for (int64_t i = 0; i < classes * features; ++i)
    w[size_t(i)] = float(scale * counter_uniform(o.seed, uint64_t(i)));
  for (int64_t c = 0; c < classes; ++c)
    b[size_t(c)] = float(counter_uniform(o.seed, uint64_t(classes * features + c)));
  const auto dev = at::TensorOptions().device(o.device);
  weight_ = at::from_blob(w.data(), {classes, features}, at::kFloat).clone();
  bias_ = at::from_blob(b.data(), {classes}, at::kFloat).clone();
  mel_ = htk_mel_filterbank(o.n_mels, o.n_fft, o.sample_rate).to(dev.dtype(at::kFloat));
  window_ = at::hann_window(o.n_fft, dev.dtype(at::kFloat));
  weight_ = weight_.to(o.device);
  bias_ = bias_.to(o.device);
}

at::Tensor DemoClassifier::forward(const at::Tensor& audio) {
  const auto& o = options_;
  auto spec = at::stft(audio, o.n_fft, o.hop, o.n_fft, window_, /*center=*/true, "reflect",
                       /*normalized=*/false, /*onesided=*/true, /*return_complex=*/true);
  auto power = at::real(spec * spec.conj());              // [rows, bins, frames]
  auto logmel = at::log(at::matmul(mel_, power) + 1e-6);  // [rows, mels, frames]
  // Time pooling: a clip's loudness and spectral shape (mean) and its variation (std).
  auto features = at::cat({logmel.mean(-1), logmel.std(-1)}, 1);  // [rows, 2 * mels]
  return at::addmm(bias_, features, weight_.t());
}

}  // namespace mg
