// Loading and running a TorchScript classifier (see torchscript_classifier.h).
// The only file of the project that includes torch/script.h.
#include "classify/torchscript_classifier.h"

#include <torch/script.h>

#include <filesystem>

#include "classify/classifier_metadata.h"
#include "musicgen/errors.h"

namespace mg {

struct TorchScriptClassifier::Module {
  torch::jit::Module m;
};

namespace {

constexpr const char* kExportFix = "export it with tools/export_passt.py (docs/classifier.md)";

// The first line of a c10::Error: the rest is a C++ stack trace nobody asked for.
std::string first_line(const char* what) {
  std::string s(what);
  return s.substr(0, s.find('\n'));
}

}  // namespace

TorchScriptClassifier::TorchScriptClassifier(const std::string& path,
                                             const TorchScriptOptions& options)
    : module_(std::make_unique<Module>()), path_(path), device_(options.device) {
  set_max_batch(options.max_batch);
  if (!std::filesystem::is_regular_file(path))
    throw InputError(path, "", "no such classifier file", kExportFix);

  torch::jit::ExtraFilesMap extra{{"mgsweep.json", ""}, {"labels.csv", ""}};
  try {
    module_->m = torch::jit::load(path, device_, extra);
  } catch (const c10::Error& e) {
    throw InputError(path, "", "cannot load as TorchScript: " + first_line(e.what()), kExportFix);
  }
  module_->m.eval();

  metadata_json_ = extra["mgsweep.json"];
  ClassifierMetadata meta =
      parse_classifier_metadata(path, metadata_json_, extra["labels.csv"], options.labels_csv);
  sample_rate_ = meta.sample_rate;
  input_samples_ = meta.input_samples;
  labels_ = std::move(meta.labels);
}

TorchScriptClassifier::~TorchScriptClassifier() = default;

at::Tensor TorchScriptClassifier::forward(const at::Tensor& audio) {
  auto out = module_->m.forward({audio});
  if (!out.isTensor())
    throw std::runtime_error(name() + ": forward returned " + out.tagKind() +
                             ", expected a logits tensor");
  return out.toTensor();
}

}  // namespace mg
