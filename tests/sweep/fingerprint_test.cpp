// Model and classifier fingerprints (sweep/fingerprint.h): XXH64 against the reference
// implementation's published digests, and the per-file cache beside the checkpoint.
#include "sweep/fingerprint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using mg::sweep::file_xxh64;
using mg::sweep::model_fingerprint;
using mg::sweep::xxh64;
using mg::sweep::Xxh64;

std::string scratch() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const fs::path d = fs::path(MGSWEEP_TEST_SCRATCH) / "fingerprint" / info->name();
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

void write(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Digests published with xxHash (its README / the python-xxhash documentation).
TEST(Xxh64, ReferenceDigests) {
  EXPECT_EQ(xxh64("", 0), 0xEF46DB3751D8E999ull);
  EXPECT_EQ(xxh64("abc", 3), 0x44BC2CF5AD770999ull);
  const std::string s = "Nobody inspects the spammish repetition";
  EXPECT_EQ(xxh64(s.data(), s.size()), 0xFBCEA83C8A378BF1ull);
}

// Streaming in pieces of every size around the 32-byte stripe gives the one-shot digest.
TEST(Xxh64, StreamingEqualsOneShot) {
  std::mt19937 rng(7);
  std::vector<uint8_t> data(1000);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  const uint64_t whole = xxh64(data.data(), data.size());
  for (size_t piece : {1, 3, 7, 31, 32, 33, 64, 100, 999}) {
    Xxh64 x;
    for (size_t at = 0; at < data.size(); at += piece)
      x.update(data.data() + at, std::min(piece, data.size() - at));
    EXPECT_EQ(x.digest(), whole) << "pieces of " << piece;
  }
  // Any one byte changed changes the digest.
  for (size_t i : {0, 31, 32, 500, 999}) {
    auto d = data;
    d[i] ^= 1;
    EXPECT_NE(xxh64(d.data(), d.size()), whole) << i;
  }
}

TEST(ModelFingerprint, EveryWeightByteAndTheConfigCount) {
  const fs::path d = scratch();
  write(d / "config.json", "{\"a\": 1}");
  write(d / "model.safetensors", std::string(100000, 'w'));
  write(d / "generation_config.json", "{}");
  const std::string fp = model_fingerprint(d.string());
  EXPECT_EQ(fp.rfind("xxh64:", 0), 0u) << fp;
  EXPECT_EQ(fp.size(), 6u + 16u);
  EXPECT_EQ(model_fingerprint(d.string()), fp);
  // A file mgsweep does not read does not count.
  write(d / "generation_config.json", "{\"x\": 2}");
  EXPECT_EQ(model_fingerprint(d.string()), fp);

  // One byte deep in the tensor data (same size; the new mtime invalidates the cache).
  std::string w(100000, 'w');
  w[77777] = 'x';
  write(d / "model.safetensors", w);
  fs::last_write_time(d / "model.safetensors",
                      fs::last_write_time(d / "model.safetensors") + std::chrono::seconds(5));
  const std::string fp2 = model_fingerprint(d.string());
  EXPECT_NE(fp2, fp);
  write(d / "config.json", "{\"a\": 2}");
  fs::last_write_time(d / "config.json",
                      fs::last_write_time(d / "config.json") + std::chrono::seconds(5));
  EXPECT_NE(model_fingerprint(d.string()), fp2);
  EXPECT_THROW(model_fingerprint((d / "missing").string()), std::exception);
}

TEST(ModelFingerprint, CacheKeyedBySizeAndMtime) {
  const fs::path d = scratch();
  write(d / "config.json", "{}");
  write(d / "model.safetensors", std::string(4096, 's'));
  // A small model is not cached (it hashes in microseconds).
  const std::string fp = model_fingerprint(d.string());
  const fs::path cache = d / ".mgsweep-fingerprint";
  EXPECT_FALSE(fs::exists(cache));
  EXPECT_EQ(model_fingerprint(d.string(), /*cache_from_bytes=*/0), fp);
  ASSERT_TRUE(fs::exists(cache));
  const std::string text = read(cache);
  // The cache holds the file's own XXH64, its size and mtime.
  const std::string digest = mg::sweep::hex64(file_xxh64((d / "model.safetensors").string()));
  EXPECT_NE(text.find(digest + " 4096 "), std::string::npos) << text;

  // A cached digest is used while size and mtime match: proven by a planted one.
  std::string planted = text;
  planted.replace(planted.find(digest), 16, "0123456789abcdef");
  write(cache, planted);
  EXPECT_NE(model_fingerprint(d.string(), 0), fp);
  // A touched file is hashed again, and the cache refreshed.
  fs::last_write_time(d / "model.safetensors",
                      fs::last_write_time(d / "model.safetensors") + std::chrono::seconds(3));
  EXPECT_EQ(model_fingerprint(d.string(), 0), fp);
  EXPECT_NE(read(cache).find(digest), std::string::npos);
  // A cache that is not ours is ignored, not trusted.
  write(cache, "garbage\n0123456789abcdef 4096 1 model.safetensors\n");
  EXPECT_EQ(model_fingerprint(d.string(), 0), fp);
}

TEST(ClassifierFingerprint, DemoAndTorchScriptFile) {
  const fs::path d = scratch();
  mg::sweep::JobSpec spec;
  spec.classifier.kind = "demo";
  const std::string demo = mg::sweep::classifier_fingerprint(spec);
  EXPECT_EQ(demo.rfind("xxh64:", 0), 0u);
  write(d / "c.pt", "torchscript bytes");
  spec.classifier.kind = "torchscript";
  spec.classifier.path = (d / "c.pt").string();
  const std::string ts = mg::sweep::classifier_fingerprint(spec);
  EXPECT_NE(ts, demo);
  write(d / "c.pt", "torchscript bytez");
  EXPECT_NE(mg::sweep::classifier_fingerprint(spec), ts);
  // Missing files: an error for a run, "unknown" for migrate (lenient).
  spec.classifier.path = (d / "none.pt").string();
  spec.model = (d / "no_model").string();
  EXPECT_THROW(mg::sweep::classifier_fingerprint(spec), std::exception);
  const auto fp = mg::sweep::job_fingerprints(spec, /*lenient=*/true);
  EXPECT_EQ(fp.model, mg::sweep::kUnknownFingerprint);
  EXPECT_EQ(fp.classifier, mg::sweep::kUnknownFingerprint);
  EXPECT_EQ(fp.classifier_path, (d / "none.pt").string());
}

}  // namespace
