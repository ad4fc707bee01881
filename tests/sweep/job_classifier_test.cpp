// The job's classifier must read the generated clip as it is (the paper's code gave PaSST the
// clip as generated), unless the job asks for padding or cropping.
#include "sweep/job_classifier.h"

#include <gtest/gtest.h>

#include <string>

#include "expect_error.h"
#include "musicgen/random_model.h"
#include "sweep/spec.h"

namespace mg::sweep {
namespace {

const std::string kRoot = std::string(MGSWEEP_TEST_DATA) + "/..";

// A classifier that only has a rate and an input length.
class FixedLength final : public mg::Classifier {
 public:
  FixedLength(int64_t rate, int64_t samples) : rate_(rate), samples_(samples) {}
  std::string name() const override { return "fixed"; }
  int64_t sample_rate() const override { return rate_; }
  int64_t input_samples() const override { return samples_; }
  const mg::Labels& labels() const override { return labels_; }
  at::Device device() const override { return at::kCPU; }

 protected:
  at::Tensor forward(const at::Tensor& audio) override { return audio; }

 private:
  int64_t rate_, samples_;
  mg::Labels labels_ = mg::Labels::numbered(1);
};

JobSpec demo_job(const std::string& fit) {
  JobSpec s = load_job(kRoot + "/jobs/demo.toml");  // 1 s = 50 frames
  s.classifier.fit_length = fit;
  return s;
}

TEST(ClipLength, TheClipsOwnLengthPasses) {
  const MusicgenConfig tiny = named_shape("tiny");
  const JobSpec s = demo_job("exact");
  // 50 frames x 640 samples at 32 kHz = 32000 samples; 16000 at 16 kHz.
  EXPECT_EQ(clip_samples(s, tiny), 50 * tiny.audio.hop_length());
  EXPECT_EQ(mgtest::error_of([&] { check_clip_length(s, tiny, FixedLength(32000, 32000), "job"); }),
            "");
  EXPECT_EQ(mgtest::error_of([&] { check_clip_length(s, tiny, FixedLength(16000, 16000), "job"); }),
            "");
}

TEST(ClipLength, PaddingIsRefusedWithTheExportCommand) {
  const MusicgenConfig tiny = named_shape("tiny");
  // PaSST exported for 10 s reading a 1 s clip: 9 s of zeros.
  const std::string e = mgtest::error_of(
      [&] { check_clip_length(demo_job("exact"), tiny, FixedLength(32000, 320000), "job.toml"); });
  EXPECT_CONTAINS(e, "job.toml");
  EXPECT_CONTAINS(e, "classifier.fit_length");
  EXPECT_CONTAINS(e, "reads 320000 samples (10 s at 32000 Hz)");
  EXPECT_CONTAINS(e, "32000 samples (1 s)");
  EXPECT_CONTAINS(e, "zero-padded");
  EXPECT_CONTAINS(e, "tools/export_passt.py --seconds 1 ");
  const std::string c = mgtest::error_of(
      [&] { check_clip_length(demo_job("pad"), tiny, FixedLength(32000, 16000), "job.toml"); });
  EXPECT_CONTAINS(c, "cropped");
  EXPECT_CONTAINS(c, "fit_length = \"crop\"");
}

TEST(ClipLength, TheJobCanAskForPaddingOrCropping) {
  const MusicgenConfig tiny = named_shape("tiny");
  auto ok = [&](const std::string& fit, int64_t samples) {
    return mgtest::error_of(
               [&] { check_clip_length(demo_job(fit), tiny, FixedLength(32000, samples), "job"); })
        .empty();
  };
  EXPECT_TRUE(ok("pad", 320000));
  EXPECT_FALSE(ok("pad", 16000));
  EXPECT_TRUE(ok("crop", 16000));
  EXPECT_FALSE(ok("crop", 320000));
  EXPECT_TRUE(ok("pad_or_crop", 16000));
  EXPECT_TRUE(ok("pad_or_crop", 320000));
}

TEST(ClipLength, TheDemoClassifierReadsTheClipAsItIs) {
  const MusicgenConfig tiny = named_shape("tiny");
  const JobSpec s = demo_job("exact");
  const auto c = make_job_classifier("demo", s, tiny, "", at::kCPU);
  EXPECT_EQ(c->input_samples(), 16000);  // 1 s at its 16 kHz
  EXPECT_EQ(mgtest::error_of([&] { check_clip_length(s, tiny, *c, "job"); }), "");
}

}  // namespace
}  // namespace mg::sweep
