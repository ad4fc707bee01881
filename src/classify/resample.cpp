// Polyphase windowed-sinc resampling (see resample.h).
#include "classify/resample.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace mg {
namespace {
constexpr double kPi = 3.14159265358979323846;
}  // namespace

Resampler::Resampler(int64_t from_rate, int64_t to_rate, const ResampleOptions& o)
    : from_rate_(from_rate), to_rate_(to_rate) {
  if (from_rate <= 0 || to_rate <= 0)
    throw std::invalid_argument("Resampler: sample rates must be positive, got " +
                                std::to_string(from_rate) + " -> " + std::to_string(to_rate));
  if (o.lowpass_filter_width <= 0 || !(o.rolloff > 0 && o.rolloff <= 1) || !(o.beta >= 0))
    throw std::invalid_argument("Resampler: bad filter options");
  if (is_identity()) return;

  const int64_t g = std::gcd(from_rate, to_rate);
  down_ = from_rate / g;
  up_ = to_rate / g;
  const double lpw = double(o.lowpass_filter_width);
  // Cutoff in units of the reduced rates, just below the lower of the two Nyquists.
  const double base = double(std::min(down_, up_)) * o.rolloff;
  width_ = int64_t(std::ceil(lpw * double(down_) / base));

  // Output sample j*up + i (phase i) lies at input position j*down + i*down/up, so phase i
  // weights input sample j*down + k - width by h(k - width - i*down/up) for k in
  // [0, 2*width + down), where h is the band-limited interpolation kernel in input samples.
  const int64_t taps = 2 * width_ + down_;
  const double i0_beta = std::cyl_bessel_i(0.0, o.beta);
  std::vector<float> k(size_t(up_ * taps));
  for (int64_t i = 0; i < up_; ++i) {
    for (int64_t j = 0; j < taps; ++j) {
      // Time in units of the cutoff's period, clamped where the window reaches 0.
      double t = (-double(i) / double(up_) + double(j - width_) / double(down_)) * base;
      t = std::max(-lpw, std::min(lpw, t));
      const double r = t / lpw;
      const double window = std::cyl_bessel_i(0.0, o.beta * std::sqrt(1.0 - r * r)) / i0_beta;
      const double x = t * kPi;
      const double sinc = x == 0.0 ? 1.0 : std::sin(x) / x;
      k[size_t(i * taps + j)] = float(sinc * window * base / double(down_));
    }
  }
  kernel_ = at::from_blob(k.data(), {up_, 1, taps}, at::kFloat).clone();
}

int64_t Resampler::output_length(int64_t n) const {
  if (is_identity()) return n;
  return (n * up_ + down_ - 1) / down_;
}

at::Tensor Resampler::operator()(const at::Tensor& audio) const {
  if (is_identity()) return audio;
  if (!audio.is_floating_point() || audio.dim() < 1)
    throw std::invalid_argument("Resampler: expected floating-point audio [..., samples]");
  const int64_t n = audio.size(-1);
  auto shape = audio.sizes().vec();
  auto x = audio.reshape({-1, 1, n});
  // Zero padding: `width` before so that the first output sees a full filter, one more
  // input period after so that the last partial phase group exists.
  x = at::constant_pad_nd(x, {width_, width_ + down_});
  auto kernel = kernel_.to(x.device(), x.scalar_type());
  auto y = at::conv1d(x, kernel, /*bias=*/{}, /*stride=*/down_);  // [rows, up, blocks]
  y = y.transpose(1, 2).reshape({x.size(0), -1});                 // interleave the phases
  shape.back() = output_length(n);
  return y.slice(1, 0, shape.back()).reshape(shape);
}

}  // namespace mg
