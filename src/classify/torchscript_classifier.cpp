// Loading and running a TorchScript classifier (see torchscript_classifier.h).
// The only file of the project that includes torch/script.h.
#include "classify/torchscript_classifier.h"

#include <torch/script.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "musicgen/errors.h"

namespace mg {

struct TorchScriptClassifier::Module {
  torch::jit::Module m;
};

namespace {

constexpr const char* kFormat = "mgsweep.classifier";
constexpr int64_t kFormatVersion = 1;
constexpr const char* kExportFix = "export it with tools/export_passt.py (docs/classifier.md)";

int64_t positive_int(const nlohmann::json& meta, const char* key, const std::string& path) {
  const std::string field = std::string("mgsweep.json: ") + key;
  if (!meta.contains(key)) throw InputError(path, field, "missing", kExportFix);
  const auto& v = meta[key];
  if (!v.is_number_integer() || v.get<int64_t>() <= 0)
    throw InputError(path, field, "must be a positive integer, is " + v.dump(), kExportFix);
  return v.get<int64_t>();
}

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
  if (metadata_json_.empty())
    throw InputError(path, "mgsweep.json",
                     "missing: the file does not say its sample rate, "
                     "input length and class count",
                     kExportFix);
  nlohmann::json meta;
  try {
    meta = nlohmann::json::parse(metadata_json_);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path, "mgsweep.json", std::string("not JSON: ") + e.what(), kExportFix);
  }
  if (!meta.is_object() || meta.value("format", "") != kFormat)
    throw InputError(path, "mgsweep.json: format", std::string("is not \"") + kFormat + "\"",
                     kExportFix);
  if (meta.value("format_version", int64_t(0)) != kFormatVersion)
    throw InputError(
        path, "mgsweep.json: format_version",
        "unsupported (this build reads version " + std::to_string(kFormatVersion) + ")",
        "re-export with this checkout's tools/export_passt.py");
  if (meta.value("output", "") != "logits")
    throw InputError(path, "mgsweep.json: output", "must be \"logits\"",
                     "the metrics need pre-softmax scores");
  sample_rate_ = positive_int(meta, "sample_rate", path);
  input_samples_ = positive_int(meta, "input_samples", path);
  const int64_t classes = positive_int(meta, "num_classes", path);

  const std::string& csv = extra["labels.csv"];
  if (!csv.empty()) {
    labels_ = Labels::parse_csv(csv, path + ":labels.csv");
  } else if (!options.labels_csv.empty()) {
    labels_ = Labels::load_csv(options.labels_csv);
  } else {
    throw InputError(path, "labels.csv", "missing, and no label file was given",
                     "pass configs/audioset_labels.csv, or re-export with --labels");
  }
  if (int64_t(labels_.size()) != classes)
    throw InputError(
        path, "mgsweep.json: num_classes",
        std::to_string(classes) + " classes but " + std::to_string(labels_.size()) + " labels",
        "use the label file the model was trained with");
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
