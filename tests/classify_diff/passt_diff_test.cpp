// The exported PaSST (random weights) loaded in C++ gives hear21passt's logits on the same
// audio within 1e-4, including the padding, cropping and resampling done in C++.
//
// Needs the files written by make_reference.py; run_passt_diff.sh (the CTest
// `classify_diff.passt`, the only place this executable runs: it is kept out of gtest
// discovery) makes them and sets the variables. Without them every test FAILS, so that
// nothing passes without comparing:
//   MGSWEEP_PASST_TS   the exported TorchScript file
//   MGSWEEP_PASST_REF  its reference.json
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "classify/resample.h"
#include "classify/torchscript_classifier.h"

namespace mg {
namespace {

constexpr double kTolerance = 1e-4;

struct Reference {
  std::string model, dir;
  nlohmann::json manifest;
};

// False when the reference files are not configured.
bool load_reference(Reference& ref) {
  const char* ts = std::getenv("MGSWEEP_PASST_TS");
  const char* json = std::getenv("MGSWEEP_PASST_REF");
  if (!ts || !*ts || !json || !*json) return false;
  ref.model = ts;
  ref.dir = std::filesystem::path(json).parent_path().string();
  std::ifstream in(json);
  if (!in) throw std::runtime_error(std::string("cannot read ") + json);
  ref.manifest = nlohmann::json::parse(in);
  return true;
}

at::Tensor read_f32(const std::string& path, const nlohmann::json& shape) {
  const auto dims = shape.get<std::vector<int64_t>>();
  auto t = at::empty(dims, at::kFloat);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(t.data_ptr<float>()), std::streamsize(t.nbytes()));
  if (!in)
    throw std::runtime_error("cannot read " + std::to_string(t.nbytes()) + " bytes of " + path);
  return t;
}

#define REQUIRE_REFERENCE(ref)                                                                 \
  Reference ref;                                                                               \
  ASSERT_TRUE(load_reference(ref)) << "MGSWEEP_PASST_TS / MGSWEEP_PASST_REF not set: run the " \
                                      "CTest classify_diff.passt (tests/classify_diff/"        \
                                      "run_passt_diff.sh)"

void expect_reference_logits(TorchScriptClassifier& model, const Reference& ref) {
  ASSERT_FALSE(ref.manifest["cases"].empty()) << "reference.json holds no cases";
  for (const auto& c : ref.manifest["cases"]) {
    const std::string name = c["name"];
    auto audio = read_f32(ref.dir + "/" + c["audio"].get<std::string>(), c["shape"]);
    auto expected = read_f32(ref.dir + "/" + c["logits"].get<std::string>(), c["logits_shape"]);
    auto logits = model.classify(audio, c["rate"].get<int64_t>());
    ASSERT_EQ(logits.sizes(), expected.sizes()) << name;
    const double diff = (logits - expected).abs().max().item<double>();
    std::cout << "  " << name << " on " << model.device() << ": max |C++ - hear21passt| = " << diff
              << " (logits up to " << expected.abs().max().item<double>() << ")\n";
    EXPECT_LE(diff, kTolerance) << name;
  }
}

TEST(PasstDiff, MetadataOfTheExport) {
  REQUIRE_REFERENCE(ref);
  TorchScriptClassifier model(ref.model);
  EXPECT_EQ(model.sample_rate(), 32000);
  EXPECT_EQ(model.input_samples(), ref.manifest["input_samples"].get<int64_t>());
  EXPECT_EQ(model.num_classes(), 527);
  EXPECT_EQ(model.labels().name(140), "Guitar");  // labels.csv travels inside the file
}

TEST(PasstDiff, SameLogitsAsHear21passtOnCpu) {
  REQUIRE_REFERENCE(ref);
  TorchScriptOptions o;
  o.max_batch = 2;  // the 3-row case is split into chunks: rows must not care
  TorchScriptClassifier model(ref.model, o);
  expect_reference_logits(model, ref);
}

TEST(PasstDiff, SameLogitsOnCuda) {
  REQUIRE_REFERENCE(ref);
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  // Full float32 matmuls and convolutions, as in the CPU reference.
  at::globalContext().setAllowTF32CuBLAS(false);
  at::globalContext().setAllowTF32CuDNN(false);
  TorchScriptOptions o;
  o.device = at::Device(at::kCUDA, 0);
  TorchScriptClassifier model(ref.model, o);
  expect_reference_logits(model, ref);
}

TEST(PasstDiff, ResamplerMatchesTorchaudio) {
  REQUIRE_REFERENCE(ref);
  int cases = 0;
  for (const auto& c : ref.manifest["cases"]) {
    if (!c.contains("resampled")) continue;
    auto audio = read_f32(ref.dir + "/" + c["audio"].get<std::string>(), c["shape"]);
    auto expected =
        read_f32(ref.dir + "/" + c["resampled"].get<std::string>(), c["resampled_shape"]);
    auto got = Resampler(c["rate"].get<int64_t>(), 32000)(audio);
    ASSERT_EQ(got.sizes(), expected.sizes());
    const double diff = (got - expected).abs().max().item<double>();
    std::cout << "  resampler vs torchaudio: max |diff| = " << diff << "\n";
    EXPECT_LE(diff, 1e-5);
    ++cases;
  }
  EXPECT_GT(cases, 0);
}

}  // namespace
}  // namespace mg
