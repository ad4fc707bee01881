// An audio classifier: a batch of mono waveforms -> logits [batch, classes].
//
// Every classifier knows its own sample rate, input length and class names. classify() does
// the work that is the same for all of them: resample from the caller's rate, pad or crop
// to the input length, run the model in chunks that fit memory, and return float32 logits
// on the CPU, ready for the metrics in metrics.h.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "classify/labels.h"

namespace mg {

class Resampler;

// Pads with zeros at the end, or keeps the first `samples`, along the last dimension.
// Returns the input itself when it already has that length.
at::Tensor fit_length(const at::Tensor& audio, int64_t samples);

class Classifier {
 public:
  virtual ~Classifier();

  // What it is, for logs and the store's metadata ("demo", "torchscript:/path/passt.pt").
  virtual std::string name() const = 0;
  virtual int64_t sample_rate() const = 0;    // the rate the model reads
  virtual int64_t input_samples() const = 0;  // clip length the model reads, at sample_rate()
  virtual const Labels& labels() const = 0;
  virtual at::Device device() const = 0;
  int64_t num_classes() const { return int64_t(labels().size()); }
  // The length a clip of `samples` at `audio_rate` Hz has at sample_rate(), i.e. before
  // classify() pads or crops it to input_samples().
  int64_t resampled_length(int64_t samples, int64_t audio_rate) const;

  // audio: [batch, samples] or [batch, 1, samples], floating point, any device, at
  // `audio_rate` Hz. Returns float32 logits [batch, num_classes()] on the CPU. Rows are
  // independent: a row's logits do not depend on the other rows or on the chunking.
  // Not thread-safe (it caches resamplers); use one classifier per thread.
  at::Tensor classify(const at::Tensor& audio, int64_t audio_rate);

  // Most rows per forward call. On a CUDA out-of-memory error classify() halves it and
  // retries, so a value too large for the GPU costs one failed attempt, not the sweep.
  int64_t max_batch() const { return max_batch_; }
  void set_max_batch(int64_t rows);

  // On the CPU (default: true) every row is classified alone, rows spread over the threads
  // (musicgen/row_parallel.h): the logits are then the same whatever the thread count, and
  // forward() must be safe to call from several threads at once (ATen ops and TorchScript
  // modules are). false: chunks of max_batch() rows on every device, as on CUDA.
  bool rows_alone() const { return rows_alone_; }
  void set_rows_alone(bool on) { rows_alone_ = on; }

 protected:
  Classifier() = default;
  // One chunk: float32 [rows, input_samples()] at sample_rate() on device() ->
  // logits [rows, num_classes()] (any floating dtype, any device).
  virtual at::Tensor forward(const at::Tensor& audio) = 0;

 private:
  at::Tensor prepare(const at::Tensor& audio, int64_t audio_rate);
  at::Tensor run_chunk(const at::Tensor& audio);

  int64_t max_batch_ = 16;
  bool rows_alone_ = true;
  std::map<int64_t, std::shared_ptr<const Resampler>> resamplers_;  // by input rate
  bool warned_length_ = false;
};

}  // namespace mg
