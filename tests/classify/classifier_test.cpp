// The shared part of classify(): input checks, resampling, padding/cropping, chunking.
#include "classify/classifier.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "classify/demo_classifier.h"

namespace mg {
namespace {

// Logits that expose what forward() saw: [sum of the row, its length, chunk size, 0...].
class Probe final : public Classifier {
 public:
  Probe(int64_t rate, int64_t samples, size_t classes = 4)
      : rate_(rate), samples_(samples), labels_(Labels::numbered(classes)) {}
  std::string name() const override { return "probe"; }
  int64_t sample_rate() const override { return rate_; }
  int64_t input_samples() const override { return samples_; }
  const Labels& labels() const override { return labels_; }
  at::Device device() const override { return at::kCPU; }

  std::vector<int64_t> chunks;  // rows per forward call, in order
  int64_t oom_above = 1 << 30;  // simulate CUDA running out of memory above this
  int64_t wrong_classes = 0;    // > 0: return this many columns (a broken model)

 protected:
  at::Tensor forward(const at::Tensor& audio) override {
    EXPECT_EQ(audio.scalar_type(), at::kFloat);
    EXPECT_TRUE(audio.is_contiguous());
    if (audio.size(0) > oom_above)
      TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory (simulated)");
    {
      std::lock_guard<std::mutex> g(mu_);  // rows alone: forward runs on several threads
      chunks.push_back(audio.size(0));
    }
    auto out =
        at::zeros({audio.size(0), wrong_classes ? wrong_classes : num_classes()}, at::kDouble);
    out.select(1, 0).copy_(audio.sum(1));
    if (!wrong_classes) {
      out.select(1, 1).fill_(double(audio.size(1)));
      out.select(1, 2).fill_(double(audio.size(0)));
    }
    return out;
  }

 private:
  int64_t rate_, samples_;
  Labels labels_;
  std::mutex mu_;
};

TEST(FitLength, PadsAtTheEndAndCropsTheStart) {
  auto x = at::arange(1, 6, at::kFloat).unsqueeze(0);  // [[1 2 3 4 5]]
  EXPECT_TRUE(
      at::equal(fit_length(x, 7), at::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 0.f, 0.f}).unsqueeze(0)));
  EXPECT_TRUE(at::equal(fit_length(x, 2), at::tensor({1.f, 2.f}).unsqueeze(0)));
  EXPECT_TRUE(fit_length(x, 5).is_same(x));
}

TEST(Classifier, ChunksRowsAndKeepsTheirOrder) {
  Probe p(8000, 10);
  p.set_rows_alone(false);
  p.set_max_batch(4);
  auto audio = at::arange(10, at::kFloat).unsqueeze(1).expand({10, 10}).contiguous();
  auto logits = p.classify(audio, 8000);
  EXPECT_EQ(p.chunks, (std::vector<int64_t>{4, 4, 2}));
  ASSERT_EQ(logits.sizes(), (at::IntArrayRef{10, 4}));
  EXPECT_EQ(logits.scalar_type(), at::kFloat);  // whatever forward returned
  for (int64_t r = 0; r < 10; ++r) EXPECT_EQ(logits[r][0].item<float>(), 10.f * r);
  // An ordinary tensor for the caller, not an inference tensor (those reject in-place ops).
  EXPECT_FALSE(logits.is_inference());
  EXPECT_NO_THROW(logits.add_(1));
}

TEST(Classifier, OnTheCpuEveryRowIsClassifiedAlone) {
  Probe p(8000, 10);
  auto audio = at::arange(10, at::kFloat).unsqueeze(1).expand({10, 10}).contiguous();
  auto logits = p.classify(audio, 8000);
  EXPECT_EQ(p.chunks, std::vector<int64_t>(10, 1));
  for (int64_t r = 0; r < 10; ++r) EXPECT_EQ(logits[r][0].item<float>(), 10.f * r);
  EXPECT_FALSE(logits.is_inference());
}

// The store must not mix numerics when a resume or another rank runs with another --threads.
// (In chunks, the demo classifier's 2-thread logits differ from 1-thread ones in their last
// bits: its STFT, mel GEMM and time pooling split their work by thread count.)
TEST(Classifier, LogitsDoNotDependOnTheThreadCount) {
  const int before = at::get_num_threads();
  DemoOptions o;
  DemoClassifier c(Labels{}, o);
  auto audio = at::randn({6, o.input_samples}, at::TensorOptions().dtype(at::kFloat)) * 0.1;
  at::Tensor by_threads[3];
  for (int t : {1, 2}) {
    at::set_num_threads(t);
    by_threads[t] = c.classify(audio, o.sample_rate);
  }
  at::set_num_threads(before);
  EXPECT_TRUE(at::equal(by_threads[1], by_threads[2]));
  // ... and a row's logits do not depend on the rows beside it.
  EXPECT_TRUE(
      at::equal(c.classify(audio.narrow(0, 3, 1), o.sample_rate), by_threads[1][3].unsqueeze(0)));
}

TEST(Classifier, PadsShortClipsAndCropsLongOnes) {
  Probe p(8000, 6);
  auto ones = at::ones({2, 1, 4});  // [batch, 1, samples] is accepted too
  auto logits = p.classify(ones, 8000);
  EXPECT_EQ(logits[0][0].item<float>(), 4.f);  // padded with zeros
  EXPECT_EQ(logits[0][1].item<float>(), 6.f);
  logits = p.classify(at::ones({1, 9}), 8000);
  EXPECT_EQ(logits[0][0].item<float>(), 6.f);  // cropped to the first 6
}

TEST(Classifier, ResamplesToItsOwnRate) {
  Probe p(16000, 16000);
  auto audio = at::ones({1, 32000});  // 1 s at 32 kHz -> 1 s at 16 kHz
  auto logits = p.classify(audio, 32000);
  EXPECT_EQ(logits[0][1].item<float>(), 16000.f);
  // DC passes a low-pass filter unchanged: away from the clip edges every sample is 1.
  EXPECT_NEAR(logits[0][0].item<float>(), 16000.f, 200.f);
}

TEST(Classifier, HalvesTheChunkOnOutOfMemory) {
  Probe p(8000, 3);
  p.set_rows_alone(false);
  p.set_max_batch(8);
  p.oom_above = 3;
  auto logits = p.classify(at::ones({7, 3}), 8000);
  // 7 rows fail, then 7 / 2 = 3 per call fit (and stay the limit for later calls).
  EXPECT_EQ(p.chunks, (std::vector<int64_t>{3, 3, 1}));
  EXPECT_EQ(p.max_batch(), 3);
  EXPECT_EQ(logits.size(0), 7);
  p.oom_above = 0;  // not even one row fits: the error reaches the caller
  EXPECT_THROW(p.classify(at::ones({1, 3}), 8000), c10::OutOfMemoryError);
}

TEST(Classifier, RejectsBadInputAndBadOutput) {
  Probe p(8000, 3);
  EXPECT_THROW(p.classify(at::ones({3}), 8000), std::invalid_argument);
  EXPECT_THROW(p.classify(at::ones({1, 2, 3}), 8000), std::invalid_argument);  // stereo
  EXPECT_THROW(p.classify(at::ones({1, 3}, at::kInt), 8000), std::invalid_argument);
  EXPECT_THROW(p.classify(at::ones({1, 3}), 0), std::invalid_argument);
  EXPECT_THROW(p.set_max_batch(0), std::invalid_argument);
  p.wrong_classes = 5;
  EXPECT_THROW(p.classify(at::ones({1, 3}), 8000), std::runtime_error);
}

TEST(Classifier, EmptyBatchGivesNoRows) {
  Probe p(8000, 3);
  EXPECT_EQ(p.classify(at::ones({0, 3}), 8000).sizes(), (at::IntArrayRef{0, 4}));
  EXPECT_TRUE(p.chunks.empty());
}

}  // namespace
}  // namespace mg
