// Loading TorchScript classifiers: metadata, labels, errors that name the file and field.
// The models here are tiny TorchScript modules written by the test itself; the real PaSST
// export is compared with hear21passt in tests/classify_diff.
#include "classify/torchscript_classifier.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "musicgen/errors.h"

namespace mg {
namespace {

const std::string kScratch = MGSWEEP_TEST_SCRATCH;
const char* kMeta =
    R"({"format": "mgsweep.classifier", "format_version": 1, "sample_rate": 8000,
        "input_samples": 16, "num_classes": 3, "output": "logits"})";
const char* kLabels = "index,mid,display_name\n0,/m/a,A\n1,/m/b,\"B, b\"\n2,/m/c,C\n";

// A linear "classifier" x @ w with w [16, 3], saved with the given extra files.
at::Tensor save_linear(const std::string& path, const torch::jit::ExtraFilesMap& extra,
                       const std::string& body = "return torch.matmul(x, self.w)") {
  auto w = at::randn({16, 3});
  torch::jit::Module m("Linear");
  m.register_buffer("w", w);
  m.define("def forward(self, x):\n    " + body + "\n");
  m.save(path, extra);
  return w;
}

std::string path_of(const std::string& name) { return kScratch + "/ts_" + name + ".pt"; }

TEST(TorchScriptClassifier, LoadsMetadataLabelsAndRuns) {
  const auto path = path_of("ok");
  const auto w = save_linear(path, {{"mgsweep.json", kMeta}, {"labels.csv", kLabels}});
  TorchScriptOptions o;
  o.max_batch = 2;
  TorchScriptClassifier c(path, o);
  EXPECT_EQ(c.sample_rate(), 8000);
  EXPECT_EQ(c.input_samples(), 16);
  EXPECT_EQ(c.num_classes(), 3);
  EXPECT_EQ(c.labels().name(1), "B, b");
  EXPECT_EQ(c.name(), "torchscript:" + path);
  EXPECT_NE(c.metadata_json().find("mgsweep.classifier"), std::string::npos);

  auto x = at::randn({5, 16});
  EXPECT_TRUE(at::allclose(c.classify(x, 8000), at::matmul(x, w), 1e-5, 1e-6));
  // Short clips are zero-padded to the model's length.
  auto short_clip = x.narrow(1, 0, 10);
  auto padded = at::constant_pad_nd(short_clip, {0, 6});
  EXPECT_TRUE(at::allclose(c.classify(short_clip, 8000), at::matmul(padded, w), 1e-5, 1e-6));
}

TEST(TorchScriptClassifier, LabelsFromAFileWhenTheModelHasNone) {
  const auto path = path_of("nolabels");
  save_linear(path, {{"mgsweep.json", kMeta}});
  const auto csv = kScratch + "/ts_labels.csv";
  std::ofstream(csv) << kLabels;
  TorchScriptOptions o;
  o.labels_csv = csv;
  EXPECT_EQ(TorchScriptClassifier(path, o).labels().name(2), "C");
  try {
    TorchScriptClassifier c(path);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_EQ(e.field(), "labels.csv");
  }
}

// The field an InputError names for a file with these extra files ("" if it loads).
std::string error_field(const std::string& name, const torch::jit::ExtraFilesMap& extra) {
  const auto path = path_of(name);
  save_linear(path, extra);
  try {
    TorchScriptClassifier c(path);
  } catch (const InputError& e) {
    EXPECT_EQ(e.file().rfind(path, 0), 0u) << e.file();  // "<path>" or "<path>:labels.csv"
    return e.field();
  }
  return "";
}

std::string meta_with(const std::string& key, const std::string& value) {
  auto j = nlohmann::json::parse(kMeta);
  j[key] = nlohmann::json::parse(value);
  return j.dump();
}

TEST(TorchScriptClassifier, BadMetadataIsAnInputError) {
  EXPECT_EQ(error_field("nometa", {{"labels.csv", kLabels}}), "mgsweep.json");
  EXPECT_EQ(error_field("notjson", {{"mgsweep.json", "{"}, {"labels.csv", kLabels}}),
            "mgsweep.json");
  EXPECT_EQ(error_field("format",
                        {{"mgsweep.json", meta_with("format", "\"x\"")}, {"labels.csv", kLabels}}),
            "mgsweep.json: format");
  EXPECT_EQ(error_field("version", {{"mgsweep.json", meta_with("format_version", "2")},
                                    {"labels.csv", kLabels}}),
            "mgsweep.json: format_version");
  EXPECT_EQ(error_field("probs", {{"mgsweep.json", meta_with("output", "\"probabilities\"")},
                                  {"labels.csv", kLabels}}),
            "mgsweep.json: output");
  EXPECT_EQ(error_field("rate", {{"mgsweep.json", meta_with("sample_rate", "-1")},
                                 {"labels.csv", kLabels}}),
            "mgsweep.json: sample_rate");
  EXPECT_EQ(error_field("len", {{"mgsweep.json", meta_with("input_samples", "\"16\"")},
                                {"labels.csv", kLabels}}),
            "mgsweep.json: input_samples");
  EXPECT_EQ(error_field("classes", {{"mgsweep.json", meta_with("num_classes", "527")},
                                    {"labels.csv", kLabels}}),
            "mgsweep.json: num_classes");
  EXPECT_EQ(error_field("badcsv", {{"mgsweep.json", kMeta}, {"labels.csv", "x"}}), "line 1");
}

TEST(TorchScriptClassifier, MissingOrForeignFileIsAnInputError) {
  EXPECT_THROW(TorchScriptClassifier(kScratch + "/does_not_exist.pt"), InputError);
  const auto junk = kScratch + "/ts_junk.pt";
  std::ofstream(junk) << "not a zip archive";
  try {
    TorchScriptClassifier c(junk);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot load as TorchScript"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << "one line for the log";
  }
}

TEST(TorchScriptClassifier, WrongOutputShapeIsCaught) {
  const auto path = path_of("shape");
  save_linear(path, {{"mgsweep.json", kMeta}, {"labels.csv", kLabels}}, "return x");
  TorchScriptClassifier c(path);
  EXPECT_THROW(c.classify(at::randn({2, 16}), 8000), std::runtime_error);
}

TEST(TorchScriptClassifier, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto path = path_of("cuda");
  save_linear(path, {{"mgsweep.json", kMeta}, {"labels.csv", kLabels}});
  TorchScriptOptions o;
  o.device = at::Device(at::kCUDA, 0);
  TorchScriptClassifier gpu(path, o), cpu(path);
  auto x = at::randn({4, 16});
  EXPECT_TRUE(at::allclose(gpu.classify(x, 8000), cpu.classify(x, 8000), 1e-4, 1e-4));
}

}  // namespace
}  // namespace mg
