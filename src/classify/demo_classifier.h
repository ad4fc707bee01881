// The demo classifier: a stand-in for PaSST that needs no file, so that the demo job runs
// on a fresh machine. It is NOT a trained model and its "AudioSet" scores mean nothing; it
// exists to exercise the whole pipeline (resampling, batching, metrics, the store).
//
// Model: log-mel spectrogram (Hann STFT, HTK mel filterbank) -> per-band mean and standard
// deviation over time -> a fixed linear projection to the classes. The projection comes from
// counter_hash(seed, index), so it is the same on every machine and every LibTorch version.
// It reads 16 kHz audio, so the generator's 32 kHz output also exercises the resampler.
#pragma once

#include <cstdint>

#include "classify/classifier.h"

namespace mg {

struct DemoOptions {
  int64_t sample_rate = 16000;
  int64_t input_samples = 16000 * 10;
  int64_t n_fft = 512;
  int64_t hop = 160;
  int64_t n_mels = 64;
  uint64_t seed = 0x6D6773776565703Aull;  // "mgsweep:"
  at::Device device = at::kCPU;
  int64_t max_batch = 64;
};

class DemoClassifier final : public Classifier {
 public:
  // `labels`: the class names, usually configs/audioset_labels.csv; their count is the
  // class count. Empty: the 527 AudioSet classes, named class_0 .. class_526.
  explicit DemoClassifier(Labels labels = {}, const DemoOptions& options = {});

  std::string name() const override { return "demo"; }
  int64_t sample_rate() const override { return options_.sample_rate; }
  int64_t input_samples() const override { return options_.input_samples; }
  const Labels& labels() const override { return labels_; }
  at::Device device() const override { return options_.device; }

  // The projection [classes, 2 * n_mels] and bias [classes], float32 on device().
  const at::Tensor& weight() const { return weight_; }
  const at::Tensor& bias() const { return bias_; }

 protected:
  at::Tensor forward(const at::Tensor& audio) override;

 private:
  DemoOptions options_;
  Labels labels_;
  at::Tensor window_, mel_, weight_, bias_;  // on options_.device
};

// The HTK mel filterbank [n_mels, n_fft/2 + 1] (triangles between 0 Hz and Nyquist, peak 1),
// computed in float64.
at::Tensor htk_mel_filterbank(int64_t n_mels, int64_t n_fft, int64_t sample_rate);

}  // namespace mg
