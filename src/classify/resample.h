// Band-limited resampling between integer sample rates: a polyphase windowed-sinc filter
// (Kaiser window) applied with one strided conv1d, on whatever device the audio is on.
//
// The algorithm and its parameters are torchaudio.functional.resample's with
// resampling_method="sinc_interp_kaiser"; the defaults are its "kaiser_best" preset
// (librosa/resampy's high-quality setting). The filter taps are computed in float64 and
// stored as float32, as torchaudio does, so the two agree to float rounding (checked by the
// differential test in tests/classify_diff).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace mg {

struct ResampleOptions {
  int64_t lowpass_filter_width = 64;    // zero crossings of the sinc on each side
  double rolloff = 0.9475937167399596;  // cutoff as a fraction of the lower Nyquist
  double beta = 14.769656459379492;     // Kaiser window shape
};

class Resampler {
 public:
  Resampler(int64_t from_rate, int64_t to_rate, const ResampleOptions& options = {});

  int64_t from_rate() const { return from_rate_; }
  int64_t to_rate() const { return to_rate_; }
  bool is_identity() const { return from_rate_ == to_rate_; }
  // ceil(n * to / from): the output covers the input's duration.
  int64_t output_length(int64_t n) const;

  // audio [..., samples], floating point, any device -> [..., output_length(samples)] with
  // the input's dtype and device. Returns the input itself when the rates are equal.
  at::Tensor operator()(const at::Tensor& audio) const;

  // The polyphase filter bank, [up, 1, taps] float32 on CPU (for tests and inspection).
  const at::Tensor& kernel() const { return kernel_; }

 private:
  int64_t from_rate_, to_rate_;
  int64_t down_ = 1, up_ = 1;  // the rate ratio in lowest terms: to/from = up/down
  int64_t width_ = 0;          // taps on each side beyond one period of the input
  at::Tensor kernel_;
};

}  // namespace mg
