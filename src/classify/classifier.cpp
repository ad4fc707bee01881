// The shared part of every classifier: resampling, length fitting, chunking.
#include "classify/classifier.h"

#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <iostream>
#include <stdexcept>

#include "classify/resample.h"
#include "musicgen/row_parallel.h"

namespace mg {

namespace {

// One line on stderr, where a Slurm job's log collects it. (Not spdlog: the system spdlog
// is built against fmt 9, and LibTorch's include directory ships fmt 12 headers that
// shadow it, so the two cannot be included together.)
void note(const std::string& line) { std::clog << "[mgsweep] " << line << std::endl; }

}  // namespace

Classifier::~Classifier() = default;

at::Tensor fit_length(const at::Tensor& audio, int64_t samples) {
  const int64_t n = audio.size(-1);
  if (n == samples) return audio;
  if (n > samples) return audio.narrow(-1, 0, samples);
  return at::constant_pad_nd(audio, {0, samples - n});
}

int64_t Classifier::resampled_length(int64_t samples, int64_t audio_rate) const {
  if (audio_rate == sample_rate()) return samples;
  return Resampler(audio_rate, sample_rate()).output_length(samples);
}

void Classifier::set_max_batch(int64_t rows) {
  if (rows < 1) throw std::invalid_argument("Classifier: max_batch must be at least 1");
  max_batch_ = rows;
}

at::Tensor Classifier::prepare(const at::Tensor& audio, int64_t audio_rate) {
  auto x = audio.to(device(), at::kFloat);
  if (audio_rate != sample_rate()) {
    // find, not operator[]: rows are prepared on several threads once the first has made
    // the resampler (classify), and only find is safe to share.
    auto it = resamplers_.find(audio_rate);
    if (it == resamplers_.end())
      it = resamplers_.emplace(audio_rate, std::make_shared<Resampler>(audio_rate, sample_rate()))
               .first;
    x = (*it->second)(x);
  }
  if (x.size(-1) != input_samples() && !warned_length_) {
    // Zero padding and cropping both change the scores compared with running the model on
    // the clip as it is, so say it once (e.g. export the classifier for the clip length).
    note(name() + ": clips of " + std::to_string(x.size(-1)) + " samples at " +
         std::to_string(sample_rate()) + " Hz are " +
         (x.size(-1) < input_samples() ? "zero-padded" : "cropped") + " to " +
         std::to_string(input_samples()) + " samples");
    warned_length_ = true;
  }
  return fit_length(x, input_samples()).contiguous();
}

at::Tensor Classifier::run_chunk(const at::Tensor& audio) {
  auto logits = forward(audio);
  if (logits.dim() != 2 || logits.size(0) != audio.size(0) || logits.size(1) != num_classes())
    throw std::runtime_error(name() + ": forward returned shape " + c10::str(logits.sizes()) +
                             ", expected [" + std::to_string(audio.size(0)) + ", " +
                             std::to_string(num_classes()) + "]");
  return logits.to(at::kCPU, at::kFloat);
}

at::Tensor Classifier::classify(const at::Tensor& audio, int64_t audio_rate) {
  if (!audio.is_floating_point() || audio.dim() < 2 || audio.dim() > 3 ||
      (audio.dim() == 3 && audio.size(1) != 1))
    throw std::invalid_argument(name() + ": expected floating-point audio [batch, samples] or " +
                                "[batch, 1, samples], got " + c10::str(audio.sizes()));
  if (audio_rate <= 0) throw std::invalid_argument(name() + ": audio rate must be positive");
  const auto mono = audio.dim() == 3 ? audio.squeeze(1) : audio;
  const int64_t rows = mono.size(0);
  // Allocated outside InferenceMode: an inference tensor handed back would refuse in-place
  // updates and autograd use in the caller's code.
  auto out = at::empty({rows, num_classes()}, at::kFloat);
  c10::InferenceMode guard;
  if (rows_alone_ && device().is_cpu() && rows > 0) {
    // Each clip alone on one thread (row_parallel.h): the same logits whatever the thread
    // count or the clips beside it. The first clip is prepared here, serially: that makes the
    // resampler and says the padding note, the state the workers then only read.
    const at::Tensor first = prepare(mono.narrow(0, 0, 1), audio_rate);
    out.copy_(for_each_row(
        rows, device(),
        [&](int64_t i) {
          return run_chunk(i == 0 ? first : prepare(mono.narrow(0, i, 1), audio_rate));
        },
        [&] { return run_chunk(prepare(mono, audio_rate)); }));
    return out;
  }
  for (int64_t start = 0; start < rows;) {
    const int64_t n = std::min(max_batch_, rows - start);
    try {
      out.narrow(0, start, n).copy_(run_chunk(prepare(mono.narrow(0, start, n), audio_rate)));
      start += n;
    } catch (const c10::OutOfMemoryError&) {
      if (n == 1) throw;
      max_batch_ = n / 2;  // remembered: the next call starts from what fitted
      note(name() + ": out of memory with " + std::to_string(n) +
           " rows per chunk, retrying with " + std::to_string(max_batch_));
    }
  }
  return out;
}

}  // namespace mg
