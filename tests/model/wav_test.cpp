#include "musicgen/wav.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <filesystem>
#include <string>
#include <vector>

#include "musicgen/errors.h"

namespace fs = std::filesystem;

namespace {

std::string scratch(const std::string& name) {
  fs::path dir = fs::path(MGSWEEP_TEST_SCRATCH) / "wav";
  fs::create_directories(dir);
  return (dir / name).string();
}

struct Read {
  SF_INFO info{};
  std::vector<float> samples;  // interleaved
};

Read read_wav(const std::string& path) {
  Read r;
  SNDFILE* f = sf_open(path.c_str(), SFM_READ, &r.info);
  EXPECT_NE(f, nullptr) << sf_strerror(nullptr);
  if (!f) return r;
  r.samples.resize(static_cast<size_t>(r.info.frames * r.info.channels));
  EXPECT_EQ(sf_readf_float(f, r.samples.data(), r.info.frames), r.info.frames);
  sf_close(f);
  return r;
}

TEST(Wav, StereoFloatRoundTripsExactly) {
  // Values beyond [-1, 1] and tiny ones: float WAV keeps them all bit-exact.
  at::Tensor audio = at::randn({2, 1234}, at::kFloat) * 3.0;
  audio[0][0] = 1e-30f;
  audio[1][5] = -7.5f;
  const std::string path = scratch("stereo.wav");
  mg::write_wav(path, audio, 32000);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  Read r = read_wav(path);
  EXPECT_EQ(r.info.samplerate, 32000);
  EXPECT_EQ(r.info.channels, 2);
  EXPECT_EQ(r.info.frames, 1234);
  EXPECT_EQ(r.info.format, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  at::Tensor back = at::from_blob(r.samples.data(), {1234, 2}, at::kFloat).t();
  EXPECT_TRUE(at::equal(back, audio));
}

TEST(Wav, MonoFromAnyFloatDtypeAndRank) {
  at::Tensor audio = at::linspace(-1.0, 1.0, 640, at::kDouble);
  const std::string p1 = scratch("mono1d.wav");
  mg::write_wav(p1, audio, 16000);  // [samples] = mono, float64 -> float32
  Read r1 = read_wav(p1);
  EXPECT_EQ(r1.info.channels, 1);
  EXPECT_EQ(r1.info.samplerate, 16000);
  EXPECT_TRUE(at::equal(at::from_blob(r1.samples.data(), {640}, at::kFloat), audio.to(at::kFloat)));

  at::Tensor half = audio.to(at::kBFloat16).unsqueeze(0);  // [1, samples] bfloat16
  const std::string p2 = scratch("mono_bf16.wav");
  mg::write_wav(p2, half, 32000);
  Read r2 = read_wav(p2);
  EXPECT_EQ(r2.info.channels, 1);
  EXPECT_EQ(r2.info.frames, 640);
  EXPECT_TRUE(
      at::equal(at::from_blob(r2.samples.data(), {1, 640}, at::kFloat), half.to(at::kFloat)));

  // A non-contiguous view (one row of a batch) is written as its values.
  at::Tensor batch = at::randn({3, 1, 100});
  const std::string p3 = scratch("row.wav");
  mg::write_wav(p3, batch.select(0, 2), 32000);
  Read r3 = read_wav(p3);
  EXPECT_TRUE(at::equal(at::from_blob(r3.samples.data(), {1, 100}, at::kFloat), batch[2]));
}

TEST(Wav, OverwritesAndRejectsBadInput) {
  const std::string path = scratch("over.wav");
  mg::write_wav(path, at::zeros({1, 10}), 32000);
  mg::write_wav(path, at::ones({1, 20}), 32000);
  EXPECT_EQ(read_wav(path).info.frames, 20);
  EXPECT_THROW(mg::write_wav(path, at::zeros({1, 2, 3}), 32000), std::invalid_argument);
  EXPECT_THROW(mg::write_wav(path, at::zeros({1, 3}, at::kLong), 32000), std::invalid_argument);
  EXPECT_THROW(mg::write_wav(path, at::zeros({1, 3}), 0), std::invalid_argument);
  try {
    mg::write_wav(scratch("no/such/dir/x.wav"), at::zeros({1, 3}), 32000);
    ADD_FAILURE() << "no error for a missing folder";
  } catch (const mg::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/dir/x.wav"), std::string::npos) << e.what();
  }
}

}  // namespace
